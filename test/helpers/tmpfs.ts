// A small tmpfs for disk-full fault tests: mounted for real (needs root), filled with a filler file, unmounted after.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Tmpfs = { ok: true; path: string; unmount: () => void } | { ok: false; reason: string };

/** Mounts a tmpfs of `sizeMb` on a fresh folder; says why when it cannot (not root, no mount permission). */
export function mountTmpfs(sizeMb: number): Tmpfs {
  const path = mkdtempSync(join(tmpdir(), 'care-gw-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'none', path], { stdio: 'pipe' });
  } catch (err) {
    rmdirSync(path);
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    const uid = process.getuid?.() ?? -1;
    return {
      ok: false,
      reason: `mount -t tmpfs failed (uid ${uid}${uid === 0 ? '' : ', not root'}): ${stderr || (err instanceof Error ? err.message : String(err))}`,
    };
  }
  return {
    ok: true,
    path,
    unmount: () => {
      execFileSync('umount', [path], { stdio: 'pipe' });
      rmdirSync(path);
    },
  };
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/** Writes `file` until at most `leaveBytes` are free on its file system (0: until the disk is full); returns a remover. */
export function fillDisk(file: string, leaveBytes = 0): () => void {
  const fd = openSync(file, 'w');
  const dir = join(file, '..');
  try {
    for (const chunk of [1024 * 1024, 4096, 512]) {
      const buf = Buffer.alloc(chunk, 0x5a);
      while (freeBytes(dir) - chunk >= leaveBytes) {
        try {
          writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return () => {
    unlinkSync(file);
  };
}

export function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
