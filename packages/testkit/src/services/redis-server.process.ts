import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A redis-server of a test's own, for tests that kill, restart or reconfigure their server
 * (the shared test Redis must stay up). Runs Debian's `redis-server` (installed by the test
 * command) on 127.0.0.1:`port` with a data directory of its own and no snapshots; `args` adds
 * options, e.g. `['--appendonly', 'yes', '--appendfsync', 'always']` or `['--requirepass', pw]`.
 */
export class RedisServerProcess {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'causeway-redis-'));
  private child: ChildProcess | undefined;

  constructor(
    readonly port: number,
    private readonly args: readonly string[] = [],
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Starts it and resolves once it answers (PONG, or NOAUTH with a password). Gives up after
   * `timeoutMs`, and then kills the server it spawned.
   */
  async start(timeoutMs = 10_000): Promise<void> {
    this.child = spawn(
      'redis-server',
      [
        ...['--port', String(this.port), '--bind', '127.0.0.1', '--save', ''],
        ...['--dir', this.dir, '--logfile', 'redis.log', ...this.args],
      ],
      { stdio: 'ignore' },
    );
    const child = this.child;
    const deadline = Date.now() + timeoutMs;
    // Its own server, not another one that took the port between freePort() and the spawn (a
    // PING alone is answered by any redis-server; pause() would then stop nothing).
    while (!(await answers(this.port, child.pid))) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(
          `redis-server on ${this.port} exited (${child.exitCode ?? child.signalCode}): port taken?`,
        );
      if (Date.now() > deadline) {
        await this.stop('SIGKILL'); // not left running, holding the port, after a failed start
        throw new Error(`redis-server on ${this.port} did not answer`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops it (SIGKILL: only what was fsynced survives) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT'); // a paused server must run to act on SIGTERM
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  /** Hangs it (SIGSTOP): connections stay open, nothing is answered until `resume`. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Lets a paused server answer again (SIGCONT). */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Killed and started again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.stop('SIGKILL');
    await this.start();
  }

  /** Stops it and deletes its data directory. */
  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * True when the server on `port` is ours (INFO's `process_id` is `pid`) and answers PING: PONG
 * (not LOADING: INFO alone is answered while an AOF loads), or NOAUTH when it wants a password.
 */
function answers(port: number, pid: number | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (data) => {
      reply += data.toString();
      if (reply.startsWith('-NOAUTH')) return done(true); // --requirepass: nothing before AUTH
      if (!reply.startsWith('+PONG')) return reply.includes('\r\n') ? done(false) : undefined;
      const id = /process_id:(\d+)/.exec(reply)?.[1];
      if (id !== undefined) done(Number(id) === pid);
    });
  });
}
