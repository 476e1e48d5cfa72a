// What the benches read of processes and the machine from Linux /proc (NaN or 'n/a' elsewhere).
import { readdirSync, readFileSync } from 'node:fs';

/** CPU time (user + system) of a process in ms. */
export function processCpuMs(pid: number | undefined): number {
  try {
    // Fields after "(name) ": state is [0]; utime and stime are the 14th and 15th of the line.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

/** CPU time of every PostgreSQL process on this machine in ms (other users' queries included). */
export function postgresCpuMs(): number {
  try {
    let total = 0;
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        if (/^\d+ \(postgres/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) total += processCpuMs(Number(pid));
      } catch {
        /* exited */
      }
    }
    return total;
  } catch {
    return Number.NaN;
  }
}

/** Voluntary context switches of a process's main thread (the event loop blocking in epoll). */
export function voluntarySwitches(pid: number | undefined): number {
  try {
    return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN);
  } catch {
    return Number.NaN;
  }
}

/** The 1, 5 and 15 minute load averages. */
export function loadAverages(): [number, number, number] {
  try {
    const [a, b, c] = readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number);
    return [a!, b!, c!];
  } catch {
    return [Number.NaN, Number.NaN, Number.NaN];
  }
}

/** The three load averages as printed by the benches ("1.2 3.4 5.6"). */
export function loadAverageText(): string {
  const l = loadAverages();
  return Number.isNaN(l[0]) ? 'n/a' : l.join(' ');
}
