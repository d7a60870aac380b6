// v2 /security's doors, windows, sunroof and storage (smartcar-api.md §3.3) as the parts that are open,
// in the owner's words. Pure. UNKNOWN means "supported, no valid value": not reported, so neither open
// nor closed; a car that reports nothing at all has no answer (undefined), not an all-clear.
const POSITION: Record<string, string> = { frontLeft: 'front left', frontRight: 'front right', backLeft: 'rear left', backRight: 'rear right' };

interface Part {
  type?: unknown;
  status?: unknown;
}

export interface SecurityClosures {
  doors?: unknown;
  windows?: unknown;
  sunroof?: unknown;
  storage?: unknown;
}

export function openingsOfSecurity(body: SecurityClosures): string[] | undefined {
  const open: string[] = [];
  let reported = 0;
  const scan = (list: unknown, name: (type: string) => string | undefined): void => {
    for (const part of Array.isArray(list) ? list as Part[] : []) {
      const status = typeof part?.status === 'string' ? part.status.toUpperCase() : '';
      const what = typeof part?.type === 'string' ? name(part.type) : undefined;
      if (what === undefined || (status !== 'OPEN' && status !== 'CLOSED')) {
        continue;
      }
      reported++;
      if (status === 'OPEN') {
        open.push(what);
      }
    }
  };
  scan(body.doors, (t) => (POSITION[t] ? `${POSITION[t]} door` : undefined));
  scan(body.windows, (t) => (POSITION[t] ? `${POSITION[t]} window` : undefined));
  scan(body.sunroof, () => 'sunroof');
  // "front" is the frunk on an electric car and the hood elsewhere (§3.3); v2 does not say which car this is.
  scan(body.storage, (t) => (t === 'rear' ? 'trunk' : t === 'front' ? 'hood/frunk' : undefined));
  return reported > 0 ? open : undefined;
}
