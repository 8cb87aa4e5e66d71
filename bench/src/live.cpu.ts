import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { listenerPid } from '../../packages/launcher/src';

/** Clock ticks per second of /proc/<pid>/stat's times (100 on Linux, almost always). */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system, ms) process `pid` has used so far; undefined once it is gone. */
export function cpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // After "pid (comm) ": state is field 3, utime 14 and stime 15 (proc(5)).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1_000) / TICKS;
}

/** A named group of processes whose CPU time is summed (e.g. both sse-gateway instances). */
export interface CpuSubject {
  name: string;
  pids: number[];
}

/** The processes listening on `port` (a server), as a subject; none where /proc cannot tell. */
export function listenerSubject(name: string, port: number): CpuSubject[] {
  const pid = listenerPid(port);
  return pid === undefined ? [] : [{ name, pids: [pid] }];
}

/** CPU time of every subject at one moment; `end` gives the ms each used since. */
export function cpuSample(subjects: readonly CpuSubject[]): { end(): Map<string, number> } {
  const read = () =>
    new Map(
      subjects.map((subject) => [
        subject.name,
        subject.pids.reduce((sum, pid) => sum + (cpuMs(pid) ?? 0), 0),
      ]),
    );
  const start = read();
  return {
    end: () => {
      const now = read();
      return new Map([...now].map(([name, ms]) => [name, ms - (start.get(name) ?? 0)]));
    },
  };
}
