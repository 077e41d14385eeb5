/**
 * One progress bar for the whole run. Work is counted in rough milliseconds of expected run time
 * (planned up front from the workloads), so the bar and its ETA move evenly even though a 100 MB
 * object costs a thousand times what a 1 kB one does. On a TTY it is a cli-progress bar on
 * stderr; elsewhere (CI logs) a line every 10 seconds.
 */
import cliProgress from 'cli-progress';

export class Progress {
  private readonly bar: cliProgress.SingleBar;
  private done = 0;
  private stopped = false;
  private readonly started = Date.now();
  private current = 'starting';

  constructor(
    private readonly total: number,
    tty: boolean,
  ) {
    this.bar = new cliProgress.SingleBar(
      {
        format: '{bar} {percentage}% | {stage} | {duration_formatted} elapsed, ETA {eta_formatted}',
        barsize: 30,
        hideCursor: true,
        stream: process.stderr,
        noTTYOutput: !tty,
        notTTYSchedule: 10_000,
        etaBuffer: 200,
        fps: 5,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(Math.max(1, Math.round(total)), 0, { stage: 'starting' });
  }

  stage(name: string): void {
    this.current = name;
    if (!this.stopped) this.bar.update(Math.round(this.done), { stage: name });
  }

  advance(units: number): void {
    this.done = Math.min(this.total, this.done + units);
    if (!this.stopped) this.bar.update(Math.round(this.done));
  }

  /** Print a line above the bar. */
  log(line: string): void {
    if (this.stopped) {
      process.stderr.write(line + '\n');
      return;
    }
    this.bar.stop();
    process.stderr.write(line + '\n');
    this.bar.start(Math.max(1, Math.round(this.total)), Math.round(this.done), { stage: this.current });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.bar.update(Math.round(this.done));
    this.bar.stop();
  }

  elapsedSeconds(): number {
    return (Date.now() - this.started) / 1000;
  }
}

/**
 * Expected milliseconds of one object through create+write+seal, get, read and release, from
 * this machine's order of magnitude (toolchain notes): about 0.25 ms fixed, 0.7 ms per MB.
 */
export function objectCost(size: number): number {
  return 0.25 + (0.7 * size) / 1e6;
}
