import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';

/** A port the launcher is about to listen on (or have an app listen on), and for what. */
export interface PortClaim {
  port: number;
  host: string;
  /** Who wants it: an instance id, or "edge proxy". */
  owner: string;
  /** The setting that chose `host` (EDGE_HOST): named when nothing can listen on that host. */
  hostSetting?: string;
}

/** A claim that cannot be had, and why (EADDRINUSE, EACCES, or "planned twice"). */
export interface BusyPort extends PortClaim {
  reason: string;
  /** Set when the port was planned for this owner too: the plan clashes, no process is in the way. */
  alsoPlannedFor?: string;
}

/**
 * The claims whose port is taken: each is tried by listening on it (the host it will be used
 * on) and closing again at once. A port planned twice counts as taken too.
 */
export async function busyPorts(claims: readonly PortClaim[]): Promise<BusyPort[]> {
  const busy: BusyPort[] = [];
  const seen = new Map<number, string>();
  for (const claim of claims) {
    const earlier = seen.get(claim.port);
    if (earlier !== undefined) {
      busy.push({ ...claim, reason: `planned for ${earlier} too`, alsoPlannedFor: earlier });
      continue;
    }
    seen.set(claim.port, claim.owner);
    const error = await tryListen(claim.port, claim.host);
    if (error) busy.push({ ...claim, reason: error });
  }
  return busy;
}

function tryListen(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    // exclusive: a cluster primary's shared handle must not make the port look free.
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * One message naming every busy port and what to do: for a port another process holds, how to
 * find it; for a port planned twice (EDGE_PORT among the apps' ports), that the settings clash —
 * no process is to blame there, so none is suggested.
 */
export function busyPortsMessage(busy: readonly BusyPort[]): string {
  const list = (ports: readonly BusyPort[]) =>
    ports
      .map(({ port, host, owner, reason }) => `${host}:${port} (${owner}: ${reason})`)
      .join(', ');
  const s = (ports: readonly BusyPort[]) => (ports.length === 1 ? '' : 's');
  const taken = busy.filter(({ alsoPlannedFor }) => alsoPlannedFor === undefined);
  const twice = busy.filter(({ alsoPlannedFor }) => alsoPlannedFor !== undefined);
  const parts: string[] = [];
  if (taken.length > 0) {
    const filter = taken.map(({ port }) => `sport = :${port}`).join(' or ');
    parts.push(
      `port${s(taken)} not free: ${list(taken)}. ` +
        `Another Causeway may still be running; \`ss -ltnp '( ${filter} )'\` shows the process ` +
        `holding ${taken.length === 1 ? 'it' : 'them'}. Stop it, or choose other ports`,
    );
  }
  if (twice.length > 0)
    parts.push(
      `port${s(twice)} planned twice: ${list(twice)}: the settings give ` +
        `${twice.length === 1 ? 'it' : 'each'} to two owners; choose ports that do not overlap`,
    );
  return `${parts.join('. ')} (--port-base / APP_PORT_BASE for the apps, EDGE_PORT for the edge proxy).`;
}

/**
 * Why nothing can listen on a claim's host, by the error's code: the host is wrong, not the port
 * (no other process is to blame, and another port would not help).
 */
const HOST_PROBLEMS: Record<string, string> = {
  EADDRNOTAVAIL: 'is not an address of this machine',
  ENOTFOUND: 'is not a host name this machine resolves',
  EAI_AGAIN: 'could not be resolved (EAI_AGAIN: the name server did not answer)',
};

/** One message naming each claim whose host cannot be listened on, and the setting to change. */
export function badHostsMessage(bad: readonly BusyPort[]): string {
  return bad
    .map(({ port, host, owner, reason, hostSetting }) => {
      const why = `"${host}" ${HOST_PROBLEMS[reason] ?? reason}`;
      const code = why.includes(reason) ? '' : ` (${reason})`;
      const fix = hostSetting
        ? `; set ${hostSetting} to an address of this machine (127.0.0.1, 0.0.0.0, …)`
        : '';
      return `cannot listen on ${host}:${port} (${owner}): ${why}${code}${fix}`;
    })
    .join('; ');
}

/**
 * Fails when a claim cannot be had: naming the host and its setting when the host is no address
 * of this machine (badHostsMessage), else with busyPortsMessage when a port is taken.
 */
export async function assertPortsFree(claims: readonly PortClaim[]): Promise<void> {
  const busy = await busyPorts(claims);
  const badHosts = busy.filter(({ reason }) => HOST_PROBLEMS[reason] !== undefined);
  if (badHosts.length > 0) throw new Error(badHostsMessage(badHosts));
  if (busy.length > 0) throw new Error(busyPortsMessage(busy));
}

/**
 * Whether process `pid` holds a listening TCP socket on `port` (any address), from Linux's
 * /proc. undefined where that cannot be told (no /proc, or the process is not readable).
 */
export function listenerOwnedBy(pid: number, port: number): boolean | undefined {
  let inodes: Set<string>;
  try {
    inodes = listeningInodes(port);
  } catch {
    return undefined;
  }
  if (inodes.size === 0) return false;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const fd of fds) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode !== undefined && inodes.has(inode)) return true;
  }
  return false;
}

/**
 * The pid of the process listening on TCP `port` (any address), from Linux's /proc; undefined
 * when none is, or where that cannot be told (no /proc, processes not readable).
 */
export function listenerPid(port: number): number | undefined {
  let inodes: Set<string>;
  try {
    inodes = listeningInodes(port);
  } catch {
    return undefined;
  }
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    if (listenerOwnedBy(Number(entry), port)) return Number(entry);
  }
  return undefined;
}

/** Inodes of the sockets listening on `port`, from /proc/net/tcp and tcp6. */
function listeningInodes(port: number): Set<string> {
  const inodes = new Set<string>();
  let tables = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    tables++;
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode …
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || fields[3] !== '0A') continue; // 0A: LISTEN
      const localPort = parseInt(fields[1]!.split(':').pop()!, 16);
      if (localPort === port) inodes.add(fields[9]!);
    }
  }
  if (tables === 0) throw new Error('no /proc/net/tcp');
  return inodes;
}
