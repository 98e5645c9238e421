/**
 * Redis floor: the least Redis CPU a step of plainloop's design can cost, measured on the same Redis as
 * the throughput scenario, beside the write the hand-rolled loop makes instead. It answers whether the
 * target "plainloop's Redis CPU a step ≤ the hand-rolled loop's" can be met at all.
 *
 * The design (DESIGN.md §9, issue 15) writes once per phase, two phases a step (the model call's, the
 * tools'), each write fenced on its own run's version and carrying the phase's events into the run's
 * stream, many runs' writes in one call with one entry in the shard's stream. The least such write is
 * measured here with nothing else in it: one Lua call per 100 runs (the throughput scenario's
 * concurrency), each run's write a fence read (`HGET version`), a state write (`HSET` of four fields)
 * and one event (`XADD`). A second figure adds what the bench's steps carry besides: the model call's
 * ledger entry, the tools' turns, the cancel check and the step's second event. The hand-rolled loop's
 * write is BullMQ's `job.updateData`, measured here the same way, 100 in flight.
 *
 * Both loops pay BullMQ's job lifecycle (add, take, finish) once per run. plainloop's floor is that
 * lifecycle (the raw no-op job's Redis CPU, from the throughput scenario, ÷ the steps of a run) plus its
 * least write; the hand-rolled loop's figure is measured whole in the throughput scenario.
 */
import type { Redis } from '@plainloop/redis';
import { Queue } from 'bullmq';
import { stepsPerRun } from '../bench-agent.ts';
import { readRedisCounters } from '../redis-command-stats.ts';

const runsPerCall = 100;

// One call commits ARGV[1] runs' writes of one phase; ARGV[2] is what it carries beyond the least write
// ('least' or 'bench'); then per run its state key, a state field's value, an event and a turn (each
// run's own: the bytes a call carries are a large part of what it costs).
const phaseWrites = `
local full = ARGV[2] == 'bench'
local events = {}
for index = 3, #ARGV, 4 do
  local key, value, event = ARGV[index], ARGV[index + 1], ARGV[index + 2]
  local version = tonumber(redis.call('HGET', key, 'version') or '0') + 1
  redis.call('HSET', key, 'version', version, 'writeId', 'w' .. version, 'pending', value, 'updatedAt', '1796648358195')
  redis.call('XADD', key .. ':events', 'MAXLEN', '~', 10000, '*', 'event', event)
  events[#events + 1] = event
  if full then
    redis.call('XADD', key .. ':events', 'MAXLEN', '~', 10000, '*', 'event', event)
    redis.call('HSETNX', key .. ':ledger', 'call' .. version, event)
    redis.call('RPUSH', key .. ':turns', ARGV[index + 3])
    redis.call('EXISTS', key .. ':cancel')
  end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', 5000, '*', 'events', table.concat(events, '\\n'))
return #events`;

// Sizes taken from the bench's own writes (MONITOR on an overhead run).
const turn = JSON.stringify({
  role: 'assistant',
  content: '',
  toolCalls: [{ id: 'call_0_0', name: 'lookup', argumentsJson: '{"key":"k0"}' }],
});
const event = JSON.stringify({
  type: 'llm.called',
  step: 0,
  tier: 'plan',
  model: 'scripted:bench',
  fallback: false,
  callId: '1a87c6e1-583d-4d4b-8250-5347257808a8',
  inputTokens: 120,
  outputTokens: 20,
  costUsd: 0,
  latencyMs: 0.2,
  runId: 'run_c3ac497c384a4eb1af67ea1dfd065fca',
  tenantId: 'default',
  agent: 'bench',
  at: 1796648358122,
});
const stateValue = JSON.stringify({
  tier: 'execute',
  model: 'scripted:bench',
  callId: 'c1',
  toolCalls: [turn],
});

async function redisCpuOf(redis: Redis, work: () => Promise<void>): Promise<number> {
  const before = await readRedisCounters(redis);
  await work();
  const after = await readRedisCounters(redis);
  return after.cpuSeconds - before.cpuSeconds;
}

async function phaseWritesCpuPerStep(redis: Redis, runs: number, carries: 'least' | 'bench') {
  const prefix = `bench-floor-${carries}`;
  const sha = String(await redis.script('LOAD', phaseWrites));
  const seconds = await redisCpuOf(redis, async () => {
    for (let start = 0; start < runs; start += runsPerCall) {
      const calls: Promise<unknown>[] = [];
      // Two phases a step: the model call's write, then the tools'.
      for (let phase = 0; phase < stepsPerRun * 2; phase += 1) {
        const writes = Array.from({ length: runsPerCall }, (_, offset) => {
          const run = `${start + offset}.${phase}`;
          return [
            `${prefix}:{r0}:run:${start + offset}`,
            `${stateValue}${run}`,
            `${event}${run}`,
            `${turn}${run}`,
          ];
        });
        calls.push(redis.evalsha(sha, 1, `${prefix}:{r0}:events`, runsPerCall, carries, ...writes.flat()));
      }
      await Promise.all(calls);
    }
  });
  await removeKeys(redis, `${prefix}:*`);
  return (seconds * 1e6) / (runs * stepsPerRun);
}

async function updateDataCpuPerStep(redis: Redis, runs: number) {
  const prefix = 'bench-floor-update';
  const queue = new Queue('bench-floor', { connection: redis, prefix: `{${prefix}}` });
  // The hand-rolled loop's state after its second step: the system and user turns, two of each step's.
  const data = {
    index: 1,
    step: 2,
    messages: [turn, turn, turn, turn, turn, turn].map((one) => JSON.parse(one)),
  };
  let seconds = 0;
  for (let start = 0; start < runs; start += runsPerCall) {
    const jobs = await queue.addBulk(
      Array.from({ length: runsPerCall }, (_, offset) => ({ name: 'run', data: { index: start + offset } })),
    );
    seconds += await redisCpuOf(redis, async () => {
      await Promise.all(
        jobs.flatMap((job) =>
          Array.from({ length: stepsPerRun }, () => job.updateData({ ...data, index: job.id })),
        ),
      );
    });
  }
  await queue.obliterate({ force: true });
  await queue.close();
  return (seconds * 1e6) / (runs * stepsPerRun);
}

async function removeKeys(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

export async function redisFloorScenario(options: {
  redis: Redis;
  runs: number;
  /** From the throughput scenario, when it ran: Redis CPU (µs) of a raw no-op job and of a hand-rolled step. */
  measured?: { rawJob: number; handRolledStep: number };
}): Promise<void> {
  const { redis, runs } = options;
  console.log(
    `\n## Redis floor: the least write of plainloop's design, ${runs} runs × ${stepsPerRun} steps, ` +
      `${runsPerCall} runs a call (no target: it shows whether the Redis CPU target can be met)`,
  );
  const least = await phaseWritesCpuPerStep(redis, runs, 'least');
  const bench = await phaseWritesCpuPerStep(redis, runs, 'bench');
  const updateData = await updateDataCpuPerStep(redis, runs);
  console.log(
    `  plainloop's least write (fence read, state write, one event; two phases a step): ${least.toFixed(1)} µs Redis CPU a step`,
  );
  console.log(
    `  the same with what the bench's steps carry (ledger entry, turns, cancel check, second event): ${bench.toFixed(1)} µs`,
  );
  console.log(`  the hand-rolled loop's write (BullMQ job.updateData, a step): ${updateData.toFixed(1)} µs`);
  if (options.measured) {
    const lifecycle = options.measured.rawJob / stepsPerRun;
    const floor = lifecycle + least;
    console.log(
      `  plainloop's floor: BullMQ's lifecycle (a raw job's ${options.measured.rawJob.toFixed(0)} µs ÷ ${stepsPerRun} steps = ` +
        `${lifecycle.toFixed(1)} µs) + the least write = ${floor.toFixed(1)} µs a step, beside the hand-rolled loop's ` +
        `measured ${options.measured.handRolledStep.toFixed(1)} µs: the target can ${floor <= options.measured.handRolledStep ? '' : 'NOT '}be met`,
    );
  }
}
