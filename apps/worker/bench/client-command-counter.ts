/**
 * The commands this process itself sent to Redis, on every connection (BullMQ's included), pipelined or
 * not: each passes through ioredis's `Redis.prototype.sendCommand`. Redis's own counters cannot tell
 * them apart from the commands its Lua scripts call, which Redis 7 counts as well.
 */
import { Redis } from 'ioredis';

/** Starts counting (before any connection is made) and returns how many commands were sent so far. */
export function countClientCommands(): () => number {
  // A command passes through `sendCommand` again when ioredis flushes its offline queue or resends it
  // after a reconnect: it is counted the first time only.
  const seen = new WeakSet<object>();
  let commands = 0;
  const sendCommand = Redis.prototype.sendCommand;
  Redis.prototype.sendCommand = function countedSendCommand(
    this: Redis,
    ...parameters: Parameters<Redis['sendCommand']>
  ) {
    const [command] = parameters;
    if (!seen.has(command)) {
      seen.add(command);
      commands += 1;
    }
    return sendCommand.apply(this, parameters);
  };
  return () => commands;
}
