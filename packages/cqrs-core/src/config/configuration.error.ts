/** One setting that is missing or malformed, named as the operator sets it (e.g. `REDIS_URL`). */
export interface ConfigurationIssue {
  setting: string;
  problem: string;
}

/** Thrown at start-up when the configuration is invalid; the message names every bad setting. */
export class ConfigurationError extends Error {
  constructor(readonly issues: readonly ConfigurationIssue[]) {
    super(`Invalid configuration: ${issues.map((i) => `${i.setting}: ${i.problem}`).join('; ')}`);
    this.name = 'ConfigurationError';
  }
}
