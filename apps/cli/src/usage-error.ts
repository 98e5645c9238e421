import { PlainloopError } from '@plainloop/contracts';

/** The command line was wrong: an unknown command or flag, a flag without its value. */
export class UsageError extends PlainloopError {
  constructor(message: string) {
    super('usage', message);
  }
}
