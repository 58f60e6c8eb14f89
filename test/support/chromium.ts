import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';

/** Where Debian's `chromium` package puts its launcher. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Flags for a headless Chromium that stays off the network and needs no user namespace. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const INSTALL_TIMEOUT_MS = 15 * 60 * 1000;

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function run(command: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      },
      (err, _stdout, stderr) => {
        if (err)
          reject(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-2000)}`));
        else resolve();
      },
    );
  });
}

let pending: Promise<{ path: string } | { skip: string }> | undefined;

/**
 * Finds Debian's Chromium, installing the `chromium` package with apt-get when running as root; otherwise
 * answers why the browser test has to be skipped. Memoised: one install attempt per process.
 */
export function ensureChromium(): Promise<{ path: string } | { skip: string }> {
  pending ??= locate();
  return pending;
}

async function locate(): Promise<{ path: string } | { skip: string }> {
  if (await executable(CHROMIUM_PATH)) return { path: CHROMIUM_PATH };
  if (process.platform !== 'linux')
    return { skip: `Chromium is not at ${CHROMIUM_PATH} and this is not Linux` };
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    return {
      skip: `Chromium is not at ${CHROMIUM_PATH} and installing it needs root (apt-get install chromium)`,
    };
  }
  const started = Date.now();
  const remaining = (): number => Math.max(1000, INSTALL_TIMEOUT_MS - (Date.now() - started));
  try {
    await run('apt-get', ['-o', 'DPkg::Lock::Timeout=300', 'update'], remaining());
    await run(
      'apt-get',
      ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '--no-install-recommends', 'chromium'],
      remaining(),
    );
  } catch (err) {
    return { skip: `could not install Debian's chromium package: ${(err as Error).message}` };
  }
  if (await executable(CHROMIUM_PATH)) return { path: CHROMIUM_PATH };
  return { skip: `apt-get installed chromium but ${CHROMIUM_PATH} is missing` };
}
