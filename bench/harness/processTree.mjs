/**
 * A process and everything it started, read from /proc: which processes they are (and what they
 * run), and how much memory they hold together. Linux only, as the rest of the benchmark.
 */
import { readdirSync, readFileSync } from 'node:fs';

/**
 * The descendants of a process: its children, their children, and so on.
 *
 * @param {number} root - the process
 * @returns {{pid: number, cmdline: string}[]} each descendant with its command line (arguments
 *   joined by spaces), in no particular order
 */
export function descendants(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name in parentheses may hold spaces; the parent pid is the second field after it.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push({ pid: Number(entry), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  const found = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/**
 * Resident (VmRSS) and proportional (Pss, shared pages divided among their users) memory of one
 * process.
 *
 * @param {number} pid - the process
 * @returns {{rss_kib: number, pss_kib: number} | null} in KiB, or null when it has ended
 */
export function processMemory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const rss = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    const pss = /^Pss:\s+(\d+)\s+kB/m.exec(rollup);
    if (!rss || !pss) return null;
    return { rss_kib: Number(rss[1]), pss_kib: Number(pss[1]) };
  } catch {
    return null;
  }
}

/**
 * The memory of a process and all its descendants, summed.
 *
 * @param {number} root - the process
 * @returns {{rss_kib: number, pss_kib: number, processes: {pid: number, cmdline: string,
 *   rss_kib: number, pss_kib: number}[]}} the sums in KiB, and each process counted
 */
export function treeMemory(root) {
  const processes = [{ pid: root, cmdline: 'root' }, ...descendants(root)]
    .map(p => ({ ...p, ...processMemory(p.pid) }))
    .filter(p => p.rss_kib !== undefined);
  return {
    rss_kib: processes.reduce((sum, p) => sum + p.rss_kib, 0),
    pss_kib: processes.reduce((sum, p) => sum + p.pss_kib, 0),
    processes
  };
}
