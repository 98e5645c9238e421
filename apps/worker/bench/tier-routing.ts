/**
 * `npm run bench:routing`: what tiered routing saves. Runs the example agents' workload twice through
 * the step machine with their offline models: once with the default tier policy (plan on the first
 * step and after a step that went wrong, execute otherwise) and once with every step on the plan tier,
 * and prints the spend of each and the saving.
 *
 * What the comparison assumes: both runs see the same conversations and token counts (the scripted
 * models answer alike whatever their tier), the plan tier is priced as openai:gpt-4.1 and the execute
 * tier as openai:gpt-4.1-mini at list prices (@pydantic/genai-prices), and token counts are the scripted
 * model's estimate (four characters a token). A real model may take more or fewer steps on either tier.
 */
import { type Agent, bindModels, executeRun, runEnvironmentFromConfig, runIdFor } from '@plainloop/agent';
import { loadConfig } from '@plainloop/config';
import { RunRequest, type RunRequestInput } from '@plainloop/contracts';
import exampleAgents from '@plainloop/example-agents';
import { createModelCatalog } from '@plainloop/llm';
import { connectRedis, createKeySchema, startPrivateRedisServer } from '@plainloop/redis';
import { createLogger } from '@plainloop/telemetry';

const workload: RunRequestInput[] = [
  { agent: 'research', input: { topic: 'stalled jobs and retries' } },
  { agent: 'research', input: { topic: 'fencing tokens and Lua scripts' } },
  { agent: 'research', input: { topic: 'rate limits and backoff' } },
  { agent: 'research', input: { topic: 'redis streams and consumers' } },
  {
    agent: 'lead-qualification',
    input: { name: 'Ada', email: 'ada@globex.com', message: 'Pricing for 400 seats and a demo?' },
  },
  {
    agent: 'lead-qualification',
    input: { name: 'Linus', email: 'linus@initech.dev', message: 'Just browsing.' },
  },
  {
    agent: 'lead-qualification',
    input: { name: 'Mary', email: 'mary@northwind.io', message: 'We want to migrate, need a trial.' },
  },
  {
    agent: 'lead-qualification',
    input: { name: 'Grace', email: 'grace@unknown.example', message: 'Can we get a trial?' },
  },
];

async function spend(
  agents: Agent[],
  prefix: string,
  url: string,
): Promise<{ costUsd: number; steps: number }> {
  const redis = await connectRedis(url, 'worker');
  const environment = runEnvironmentFromConfig(loadConfig({ PLAINLOOP_RETRY_BASE_DELAY_MS: '10' }), {
    redis,
    keys: createKeySchema(prefix),
    logger: createLogger({ service: 'bench', level: 'error' }),
  });
  const catalog = createModelCatalog({});
  const bound = new Map(agents.map((agent) => [agent.name, bindModels(agent, catalog).bound]));
  let costUsd = 0;
  let steps = 0;
  for (const input of workload) {
    const request = RunRequest.parse(input);
    const outcome = await executeRun({
      environment,
      agents: bound,
      job: { runId: runIdFor(request), request },
      signal: new AbortController().signal,
      shouldRelease: () => false,
      lastAttempt: true,
    });
    if (outcome.kind !== 'finished' || outcome.state.status !== 'succeeded')
      throw new Error(`a ${request.agent} run did not succeed`);
    costUsd += outcome.state.costUsd;
    steps += outcome.state.step;
  }
  await redis.quit();
  return { costUsd, steps };
}

const server = await startPrivateRedisServer();
try {
  const tiered = await spend(exampleAgents, 'routing-tiered', server.url);
  const allPlan = await spend(
    exampleAgents.map((agent) => ({ ...agent, chooseTier: () => 'plan' as const })),
    'routing-all-plan',
    server.url,
  );
  const saving = 1 - tiered.costUsd / allPlan.costUsd;
  console.log(
    `tier routing: ${workload.length} runs of the example agents, ${tiered.steps} steps, offline models at list prices`,
  );
  console.log(`  every step on the plan tier (openai:gpt-4.1 prices): $${allPlan.costUsd.toFixed(6)}`);
  console.log(
    `  tiered (plan first and after failures, gpt-4.1-mini otherwise): $${tiered.costUsd.toFixed(6)}`,
  );
  console.log(`  saving: ${(saving * 100).toFixed(1)}%`);
} finally {
  await server.stop();
}
