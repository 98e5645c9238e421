/**
 * Redis floor: the least Redis CPU a step of plainloop's design can cost, measured on the same Redis as
 * the throughput scenario, beside the write the hand-rolled loop makes instead. It answers whether the
 * target "plainloop's Redis CPU a step ≤ the hand-rolled loop's" can be met at all.
 *
 * The design (DESIGN.md §9, issue 15) writes once per phase, two phases a step (the model call's, the
 * tools'), each write fenced on its own run's version and carrying what its phase produced, many runs'
 * writes in one Lua call (100 here, the throughput scenario's concurrency) with one entry in the shard's
 * stream. Two shapes of write are measured with nothing else around them, in Lua as lean as it gets:
 * - the least write: a fence read (`HGET version`), a state write (`HSET` of four fields) and one event
 *   (`XADD`), each phase;
 * - the design's write, what the issue has a phase carry, sized as the bench's steps make it: the model
 *   call's phase adds its ledger entry (`HSETNX`), the tools' phase the next step's event and the step's
 *   two turns (`RPUSH`); both check for a cancel (`EXISTS`).
 * The hand-rolled loop's write is BullMQ's `job.updateData`, measured here the same way, 100 in flight.
 *
 * Both loops pay BullMQ's job lifecycle (add, take, finish) once per run; the hand-rolled loop's is
 * dearer than a no-op job's, as its job carries its whole state. plainloop's floor is a no-op job's
 * lifecycle (its Redis CPU in the throughput scenario ÷ the steps of a run) plus its write; taking the
 * run up and finishing it (its expiry, its last event) are left out, so the floor is a lower bound. The
 * hand-rolled loop's figure is the throughput scenario's, measured whole.
 */
import type { RedisConnection } from '@plainloop/redis';
import { Queue } from 'bullmq';
import { stepsPerRun } from '../bench-agent.ts';
import { removeBenchRuns } from '../bench-runs.ts';
import { readRedisCounters } from '../redis-command-stats.ts';

const runsPerCall = 100;

// One call commits the runs' writes of one phase. ARGV[1] says what each carries: 'least' (the fence
// read, the state write and one event), 'model' (a model call's phase as the bench's steps make it:
// its event, its ledger entry and the cancel check) or 'tools' (a tools' phase: the tool's event and
// the next step's, the step's two turns, the cancel check); then per run its state key, a state value,
// an event, a second value (the ledger record or the second event) and a turn, each run's own: the bytes
// a call carries are a large part of what it costs.
const phaseWrites = `
local carries = ARGV[1]
local events = {}
for index = 2, #ARGV, 5 do
  local key, value, event, second, turn = ARGV[index], ARGV[index + 1], ARGV[index + 2], ARGV[index + 3], ARGV[index + 4]
  local version = tonumber(redis.call('HGET', key, 'version') or '0') + 1
  redis.call('HSET', key, 'version', version, 'writeId', 'w' .. version, 'pending', value, 'updatedAt', '1796648358195')
  redis.call('XADD', key .. ':events', 'MAXLEN', '~', 10000, '*', 'event', event)
  events[#events + 1] = event
  if carries == 'model' then
    redis.call('HSETNX', key .. ':ledger', 'call' .. version, second)
  elseif carries == 'tools' then
    redis.call('XADD', key .. ':events', 'MAXLEN', '~', 10000, '*', 'event', second)
    events[#events + 1] = second
    redis.call('RPUSH', key .. ':turns', turn, turn)
  end
  if carries ~= 'least' then
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

async function redisCpuOf(redis: RedisConnection, work: () => Promise<void>): Promise<number> {
  const before = await readRedisCounters(redis);
  await work();
  const after = await readRedisCounters(redis);
  return after.cpuSeconds - before.cpuSeconds;
}

async function phaseWritesCpuPerStep(redis: RedisConnection, runs: number, shape: 'least' | 'design') {
  const prefix = `bench-floor-${shape}`;
  const sha = String(await redis.script('LOAD', phaseWrites));
  const seconds = await redisCpuOf(redis, async () => {
    for (let start = 0; start < runs; start += runsPerCall) {
      const calls: Promise<unknown>[] = [];
      // Two phases a step: the model call's write, then the tools'.
      for (let phase = 0; phase < stepsPerRun * 2; phase += 1) {
        const carries = shape === 'least' ? 'least' : phase % 2 === 0 ? 'model' : 'tools';
        const writes = Array.from({ length: runsPerCall }, (_, offset) => {
          const run = `${start + offset}.${phase}`;
          return [
            `${prefix}:{r0}:run:${start + offset}`,
            `${stateValue}${run}`,
            `${event}${run}`,
            `${event}${run}`,
            `${turn}${run}`,
          ];
        });
        calls.push(redis.evalsha(sha, 1, `${prefix}:{r0}:events`, carries, ...writes.flat()));
      }
      await Promise.all(calls);
    }
  });
  await removeBenchRuns(redis, prefix);
  return (seconds * 1e6) / (runs * stepsPerRun);
}

async function updateDataCpuPerStep(redis: RedisConnection, runs: number) {
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

export async function redisFloorScenario(options: {
  redis: RedisConnection;
  runs: number;
  /** From the throughput scenario, when it ran: Redis CPU (µs) of a raw no-op job and of a hand-rolled step. */
  measured?: { rawJob: number; handRolledStep: number };
}): Promise<void> {
  const { redis, runs } = options;
  console.log(
    `\n## Redis floor: the writes of plainloop's design alone, ${runs} runs × ${stepsPerRun} steps, ` +
      `${runsPerCall} runs a call (no target: it shows whether the Redis CPU target can be met)`,
  );
  const least = await phaseWritesCpuPerStep(redis, runs, 'least');
  const design = await phaseWritesCpuPerStep(redis, runs, 'design');
  const updateData = await updateDataCpuPerStep(redis, runs);
  console.log(
    `  the least write (fence read, state write, one event), two a step:  ${least.toFixed(1)} µs Redis CPU a step`,
  );
  console.log(
    `  the design's write (with its ledger entry, turns, events, cancel check): ${design.toFixed(1)} µs`,
  );
  console.log(
    `  the hand-rolled loop's write (BullMQ job.updateData), one a step:       ${updateData.toFixed(1)} µs`,
  );
  if (options.measured) {
    const { rawJob, handRolledStep } = options.measured;
    const lifecycle = rawJob / stepsPerRun;
    const verdictOf = (floor: number) =>
      `${floor.toFixed(1)} µs a step: ${floor <= handRolledStep ? 'at or under' : 'OVER'} the hand-rolled loop's ${handRolledStep.toFixed(1)}`;
    console.log(
      `  plainloop's floor, BullMQ's lifecycle (a no-op job's ${rawJob.toFixed(0)} µs ÷ ${stepsPerRun} = ${lifecycle.toFixed(1)} µs a step) plus`,
    );
    console.log(`    the least write:    ${verdictOf(lifecycle + least)}`);
    console.log(`    the design's write: ${verdictOf(lifecycle + design)}`);
  }
}
