// v3 commands (v3 ref §3.4): POST /vehicles/{id}/commands/{security/lock|security/unlock|charge/start|
// charge/stop|charge/set-limit}, run by the same vehicle rules as v2 (vehicles.ts) after
// commandLatencyMs. 200 command-execution on success; a refusal per the `commandFailure` reading;
// past longRunningAfterMs a 202 goes out at once and the outcome follows on the same connection.
import { randomUUID } from 'node:crypto';
import type { ErrorSpec } from '../errors.js';
import { ApiError } from '../errors.js';
import type { Ctx, Reply } from '../http.js';
import { header, parseJson, sleep } from '../http.js';
import type { EmulatedVehicle, Permission } from '../vehicles.js';
import * as V from '../vehicles.js';
import type { V3Deps } from './context.js';
import { contentType, gate, networkFault, NOT_BILLED, takeFaults, v3ErrorReply, v3Json } from './context.js';
import { asV3, v3Error, v3ErrorObject } from './errors.js';
import type { VehicleScope } from './signals.js';

interface CommandDef {
  commandType: string;
  permission: Permission;
  /** Validates the body; the result is echoed as attributes.parameters. */
  parameters?: (body: unknown) => Record<string, unknown>;
  run: (v: EmulatedVehicle, params: Record<string, unknown>, now: number) => void;
}

function percentOf(body: unknown): Record<string, unknown> {
  const attributes = (body as { data?: { attributes?: Record<string, unknown> } } | undefined)?.data?.attributes;
  if (attributes?.percent === undefined) {
    throw v3Error('VALIDATION', 'MISSING_PARAMETER', { description: 'missing data.attributes.percent' });
  }
  const percent = attributes.percent;
  if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 50 || percent > 100) {
    throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: 'data.attributes.percent must be an integer between 50 and 100.' });
  }
  return { percent };
}

/** Keyed by the path under /commands/. commandType names beyond set-limit/lock/unlock follow the pattern (v3 ref §7.16). */
export const COMMANDS: Record<string, CommandDef> = {
  'security/lock': { commandType: 'security-lock', permission: 'control_security', run: (v, _p, now) => V.securityCommand(v, 'LOCK', now) },
  'security/unlock': { commandType: 'security-unlock', permission: 'control_security', run: (v, _p, now) => V.securityCommand(v, 'UNLOCK', now) },
  'charge/start': { commandType: 'charge-start', permission: 'control_charge', run: (v, _p, now) => V.chargeCommand(v, 'START', now) },
  'charge/stop': { commandType: 'charge-stop', permission: 'control_charge', run: (v, _p, now) => V.chargeCommand(v, 'STOP', now) },
  'charge/set-limit': {
    commandType: 'charge-set-limit', permission: 'control_charge', parameters: percentOf,
    run: (v, p, now) => V.setChargeLimit(v, (p.percent as number) / 100, now),
  },
};

type Outcome = { ok: true; completedAt: number } | { ok: false; completedAt: number; spec: ErrorSpec };

function execution(cmd: CommandDef, mode: 'sync' | 'async', value: 'SUCCESS' | 'FAILURE', params: Record<string, unknown> | undefined,
  executedAt: number, completedAt: number): { data: object } {
  return {
    data: {
      id: `exec_${randomUUID().replace(/-/g, '')}`,
      type: 'command-execution',
      attributes: { commandType: cmd.commandType, status: { value }, executionMode: mode, ...(params ? { parameters: params } : {}) },
      meta: {
        executedAt: new Date(executedAt).toISOString(),
        completedAt: new Date(completedAt).toISOString(),
        durationInSeconds: Math.round((completedAt - executedAt) / 1000),
      },
    },
  };
}

/** The outcome body: success, or a failure per reading (errors[] alone, or a FAILURE execution with errors[]). */
function outcomeBody(deps: V3Deps, cmd: CommandDef, mode: 'sync' | 'async', o: Outcome, params: Record<string, unknown> | undefined, executedAt: number): unknown {
  if (o.ok) {
    return execution(cmd, mode, 'SUCCESS', params, executedAt, o.completedAt);
  }
  return deps.readings.commandFailure === 'errors'
    ? { errors: [v3ErrorObject(o.spec)] }
    : { ...execution(cmd, mode, 'FAILURE', params, executedAt, o.completedAt), errors: [v3ErrorObject(o.spec)] };
}

/** A synchronous outcome: 200 execution; a refusal as errors[] with its HTTP status, or 200 FAILURE (per reading). */
function finishSync(deps: V3Deps, o: Outcome, respond: (o: Outcome, mode: 'sync') => unknown, log: Reply['log']): Reply {
  if (o.ok || deps.readings.commandFailure === 'status-failure') {
    return { ...v3Json(deps, 200, respond(o, 'sync')), log };
  }
  return { ...v3ErrorReply(deps, o.spec), log };
}

/** POST /vehicles/{id}/commands/{name}. Billed 1 once admitted, also when the car refuses (as v2). */
export async function runCommand(ctx: Ctx, deps: V3Deps, scope: VehicleScope, name: string): Promise<Reply> {
  const log = (billed: number): Reply['log'] => ({ vehicleId: scope.v.id, userId: scope.userId, billed });
  const bill = (): void => deps.limits.bill(scope.v.id);
  let admitted = false;
  try {
    const cmd = COMMANDS[name];
    if (!cmd) {
      throw v3Error('RESOURCE_NOT_FOUND', 'PATH');
    }
    if (!(header(ctx, 'content-type') ?? '').toLowerCase().startsWith('application/json')) {
      throw v3Error('VALIDATION', 'INVALID_INPUT_FORMAT', { description: 'Content-Type must be application/json.' });
    }
    if (!scope.connection.permissions.includes(cmd.permission)) {
      throw v3Error('PERMISSION', null);
    }
    const parsed = ctx.body.trim() === '' ? undefined : parseJson(ctx.body);
    if (ctx.body.trim() !== '' && parsed === undefined) {
      throw v3Error('VALIDATION', 'BAD_REQUEST');
    }
    const params = cmd.parameters?.(parsed);
    gate(deps, scope.v.id);
    admitted = true;
    const faults = await takeFaults(deps, { kind: 'command', method: 'POST', path: `/commands/${name}`, vehicleId: scope.v.id });
    if (faults.terminal) {
      bill();
      return { ...networkFault(faults.terminal), log: log(1) };
    }
    const executedAt = deps.clock.now();
    const refused = (err: unknown, at: number): Outcome => {
      if (err instanceof ApiError) {
        return { ok: false, completedAt: at, spec: asV3(err.spec) };
      }
      throw err;
    };
    const respond = (o: Outcome, mode: 'sync' | 'async'): unknown => outcomeBody(deps, cmd, mode, o, params, executedAt);
    bill();
    // A car that cannot be reached refuses at once, as in v2 (no latency, never long-running).
    try {
      V.assertReachable(scope.v);
    } catch (err) {
      return finishSync(deps, refused(err, executedAt), respond, log(1));
    }
    const latency = deps.commandLatencyMs();
    const perform = async (): Promise<Outcome> => {
      await sleep(latency);
      const now = deps.clock.now();
      try {
        cmd.run(scope.v, params ?? {}, now);
        // The car changed: webhooks deliver it (asynchronously, so this answer is not held up).
        deps.state.vehicleChanged(scope.v.id);
        return { ok: true, completedAt: now };
      } catch (err) {
        return refused(err, now);
      }
    };
    if (latency > deps.longRunningAfterMs()) {
      // Started now, answered 202 at once; the outcome is the rest of this same response.
      const outcome = perform();
      return {
        status: 202, headers: { 'content-type': contentType(deps) }, body: '',
        stream: async () => JSON.stringify(respond(await outcome, 'async')),
        log: log(1),
      };
    }
    return finishSync(deps, await perform(), respond, log(1));
  } catch (err) {
    if (!(err instanceof ApiError)) {
      throw err;
    }
    const billed = admitted && !NOT_BILLED.has(err.spec.status) ? 1 : 0;
    if (billed) {
      bill();
    }
    return { ...v3ErrorReply(deps, asV3(err.spec)), log: log(billed) };
  }
}
