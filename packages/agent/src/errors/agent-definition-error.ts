import { PlainloopError } from '@plainloop/contracts';

/** An agent module that cannot be used as written: a bad name, duplicate tools, no usable model. */
export class AgentDefinitionError extends PlainloopError {
  constructor(message: string, cause?: unknown) {
    super('invalid_agent', message, { cause });
  }
}
