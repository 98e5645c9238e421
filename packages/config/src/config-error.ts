import { PlainloopError } from '@plainloop/contracts';

/**
 * A bad environment variable. Its message is one line naming the variable, fit to print as the only
 * output of a process that cannot start.
 */
export class ConfigError extends PlainloopError {
  constructor(message: string) {
    super('invalid_config', message);
  }
}
