/**
 * Atomic file replacement: write a temp file in the same directory, fsync it, rename it over
 * the target, fsync the directory. A crash leaves either the old file or the new one, never a
 * half-written one under the final name (temp files start with '.' and end in '.tmp').
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export function atomicWriteFile(path: string, data: Buffer | string): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dir);
}

export function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot fsync a directory; the rename is still atomic there.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** `.<final name>.<pid>.tmp`, as atomicWriteFile names its temporary files. */
const TEMP_RE = /^\.(.+)\.(\d+)\.tmp$/;

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}

/**
 * Removes the temporary files that interrupted atomic writes left in `dir` (a kill or a crash
 * between the write and the rename) whose final name `keep` accepts and whose writer is gone.
 * A temp file of a live process (another run writing into the same directory) is left alone.
 * Returns the paths removed; a directory that does not exist has none.
 */
export function removeStaleTempFiles(dir: string, keep: (finalName: string) => boolean): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (!m || !keep(m[1] as string)) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || processIsAlive(pid)) continue;
    try {
      unlinkSync(join(dir, name));
      removed.push(join(dir, name));
    } catch {}
  }
  return removed;
}

/**
 * Creates `dir` if needed and writes, fsyncs and removes a small file in it: throws (the
 * system's error) when the directory cannot be written, so a run finds out at start rather than
 * at its first checkpoint.
 */
export function probeWritableDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const probe = join(dir, `.shopsim-probe.${process.pid}.tmp`);
  const fd = openSync(probe, 'w', 0o644);
  try {
    writeSync(fd, 'probe\n');
    fsyncSync(fd);
  } finally {
    closeSync(fd);
    try {
      unlinkSync(probe);
    } catch {}
  }
}
