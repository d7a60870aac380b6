// Faults of webhook delivery (Smartcar's side of an at-least-once, unordered channel, smartcar-api.md
// §6.1): each armed for the next N delivery attempts (POSTs), optionally of one vehicle, so a receiver
// can be proven against duplicates, reordering, loss, forged or missing signatures, Dashboard test
// deliveries and slow sends. VERIFY is a Dashboard action with its own answer and takes none.

export type DeliveryFault =
  /** The attempt is sent twice; the copy has a new deliveryId, same eventId. */
  | { kind: 'duplicate' }
  /** The attempt is held and sent right after the next attempt for the same vehicle has been answered. */
  | { kind: 'reorder' }
  /** The attempt and its remaining retries are never sent (lost on the way). */
  | { kind: 'drop' }
  /** SC-Signature made with a wrong key. */
  | { kind: 'badSignature' }
  /** No SC-Signature header. */
  | { kind: 'unsigned' }
  /** meta.mode "TEST": a Dashboard test delivery, to be acknowledged and ignored (v3 ref §6). */
  | { kind: 'test' }
  /** Sent this many real ms late (not scaled by webhookTimeScale). */
  | { kind: 'delay'; ms: number };

export type DeliveryFaultKind = DeliveryFault['kind'];

export const DELIVERY_FAULT_KINDS: readonly DeliveryFaultKind[] = ['duplicate', 'reorder', 'drop', 'badSignature', 'unsigned', 'test', 'delay'];

export interface ArmedDeliveryFault { fault: DeliveryFault; remaining: number; vehicleId: string | null }

/** What applies to one attempt: every matching armed fault, combined. */
export interface AppliedFaults {
  kinds: DeliveryFaultKind[];
  duplicate: boolean;
  reorder: boolean;
  drop: boolean;
  badSignature: boolean;
  unsigned: boolean;
  test: boolean;
  delayMs: number;
}

/** Validates a fault from the control API (or a loosely typed caller); throws naming what is wrong. */
export function checkDeliveryFault(raw: unknown): DeliveryFault {
  const kind = typeof raw === 'object' && raw !== null ? (raw as { kind?: unknown }).kind : undefined;
  if (typeof kind !== 'string' || !(DELIVERY_FAULT_KINDS as readonly string[]).includes(kind)) {
    throw new Error(`a delivery fault needs kind: one of ${DELIVERY_FAULT_KINDS.join(', ')}`);
  }
  if (kind === 'delay') {
    const ms = (raw as { ms?: unknown }).ms;
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
      throw new Error('a delay delivery fault needs ms: a non-negative number');
    }
    return { kind, ms };
  }
  return { kind } as DeliveryFault;
}

export class DeliveryFaultBook {
  private armed: ArmedDeliveryFault[] = [];

  add(fault: DeliveryFault, times = 1, vehicleId?: string): void {
    const checked = checkDeliveryFault(fault);
    if (!Number.isInteger(times) || times < 1) {
      throw new Error(`delivery fault times must be a positive integer, got ${String(times)}`);
    }
    this.armed.push({ fault: checked, remaining: times, vehicleId: vehicleId ?? null });
  }

  /** Consumes one use of every armed fault that matches this vehicle's attempt. */
  take(vehicleId: string): AppliedFaults {
    const out: AppliedFaults = { kinds: [], duplicate: false, reorder: false, drop: false, badSignature: false, unsigned: false, test: false, delayMs: 0 };
    for (const a of this.armed) {
      if (a.remaining <= 0 || (a.vehicleId !== null && a.vehicleId !== vehicleId)) {
        continue;
      }
      a.remaining--;
      const f = a.fault;
      out.kinds.push(f.kind);
      if (f.kind === 'delay') {
        out.delayMs += f.ms;
      } else {
        out[f.kind] = true;
      }
    }
    this.armed = this.armed.filter((a) => a.remaining > 0);
    return out;
  }

  list(): ArmedDeliveryFault[] {
    return this.armed.map((a) => ({ ...a, fault: { ...a.fault } }));
  }

  clear(): void {
    this.armed = [];
  }
}
