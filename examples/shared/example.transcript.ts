/**
 * The lines an example prints, kept so that `run()` can return them: the tests assert on what a
 * reader of the example sees, and main.ts prints the same lines as they happen.
 */
export class Transcript {
  readonly lines: string[] = [];

  constructor(private readonly print: (line: string) => void = () => {}) {}

  step(line: string): void {
    this.lines.push(line);
    this.print(line);
  }
}
