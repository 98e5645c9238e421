import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PlainloopClient } from '@plainloop/client';
import { waitFor } from '@plainloop/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure, exitCodeOf } from './commands/exit-codes.ts';
import { freePort } from './demo/fleet-processes.ts';
import { runCli } from './run-cli.ts';
import { type ApiFleet, startApiFleet } from './test-fixtures/api-fleet.ts';
import { runPlainloop } from './test-fixtures/plainloop-command.ts';

type Captured = { code: number; output: string };

// One API and one worker process for the whole file; most commands run in this process (their output
// captured), a few through the real bin for exit codes and stderr.
describe('the plainloop commands against a real API and worker', { timeout: 60_000 }, () => {
  let setup: ApiFleet;
  let client: PlainloopClient;
  let environment: NodeJS.ProcessEnv;
  let directory: string;

  beforeAll(async () => {
    setup = await startApiFleet('key-of-the-acme-tenant-for-the-cli');
    ({ client } = setup);
    environment = { PLAINLOOP_API_URL: setup.baseUrl, PLAINLOOP_API_KEY: setup.apiKey };
    directory = await mkdtemp(join(tmpdir(), 'plainloop-cli-'));
  }, 90_000);
  afterAll(async () => {
    await setup?.stop();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** Runs a command in this process; `sink` sees the output as it is written. */
  async function cli(args: string[], sink: { output: string } = { output: '' }): Promise<Captured> {
    const code = await runCli(args, environment, {
      write: (text: string) => {
        sink.output += text;
      },
    });
    return { code, output: sink.output };
  }

  /** What a command that fails exits with and says, as main.ts reports it. */
  const failure = (args: string[]) =>
    cli(args).then(
      () => {
        throw new Error(`plainloop ${args.join(' ')} did not fail`);
      },
      (error: unknown) => ({ exitCode: exitCodeOf(error), message: describeFailure(error) }),
    );

  const runIdOf = (output: string) => /^(run_\w+)/.exec(output)?.[1] ?? '';

  it('run --wait prints live progress (step, tier, model, tokens, cost so far, tools), then the outcome; exit 0', async () => {
    const { code, output } = await cli([
      'run',
      'lookup',
      '--input',
      '{"topic":"cli"}',
      '--idempotency-key',
      'cli-run-1',
      '--wait',
    ]);
    expect(code).toBe(0);
    const lines = output.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^run_\w+ queued$/);
    expect(lines).toContain('step 0 · plan tier');
    expect(lines).toContain('step 1 · execute tier');
    expect(output).toMatch(
      /^ {2}scripted:lookup-plan → 1 tool call \(\d+ in \/ \d+ out tokens, \$0\.\d{6}, \d+\.\d\ds\) · \$0\.\d{6} so far$/m,
    );
    expect(output).toMatch(/^ {2}tool lookup ok \(\d+\.\d\ds\)$/m);
    expect(output).toMatch(/^finished: succeeded after 2 steps in \d+\.\d\ds$/m);
    // The cost so far after the last model call is what the run cost.
    const soFar = [...output.matchAll(/(\$0\.\d{6}) so far/g)].map((match) => match[1]);
    const outcome =
      /^succeeded · 2 steps · [\d,]+ in \/ [\d,]+ out tokens · (\$0\.\d{6}) · \d+\.\d\ds$/m.exec(output);
    expect(outcome?.[1]).toBe(soFar.at(-1));
    expect(output.endsWith('output: {\n  "answer": "cli is fine"\n}\n')).toBe(true);

    const again = await cli([
      'run',
      'lookup',
      '--input',
      '{"topic":"cli"}',
      '--idempotency-key',
      'cli-run-1',
      '--json',
    ]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.output)).toEqual({ runId: runIdOf(output), status: 'succeeded', replayed: true });
  });

  it('run takes its input from a file; --json --wait prints only the finished run as JSON', async () => {
    const file = join(directory, 'input.json');
    await writeFile(file, JSON.stringify({ topic: 'files' }));
    const { code, output } = await cli(['run', 'lookup', '--input', `@${file}`, '--wait', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(output)).toMatchObject({
      agent: 'lookup',
      status: 'succeeded',
      output: { answer: 'files is fine' },
      stepCount: 2,
    });
  });

  it('runs ls shows the newest runs as a table, filtered; runs show gives the summary and the timeline', async () => {
    const { output: created } = await cli(['run', 'lookup', '--input', '{"topic":"tables"}', '--wait']);
    const runId = runIdOf(created);

    const listed = await cli(['runs', 'ls', '--agent', 'lookup', '--status', 'succeeded', '--limit', '2']);
    const rows = listed.output.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^run\s+agent\s+status\s+steps\s+cost \(USD\)\s+created$/);
    expect(rows.slice(2)).toHaveLength(2);
    expect(rows[2]).toMatch(
      new RegExp(
        `^${runId}\\s+lookup\\s+succeeded\\s+2\\s+\\$0\\.\\d{6}\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$`,
      ),
    );
    const json = JSON.parse((await cli(['runs', 'ls', '--agent', 'stubborn', '--json'])).output);
    expect(json).toEqual({ runs: [] });
    const all = JSON.parse((await cli(['runs', 'ls', '--json', '--limit', '3'])).output);
    expect(all.runs).toHaveLength(3);
    expect(all.runs[0]).toMatchObject({ runId, agent: 'lookup', status: 'succeeded', steps: 2 });

    const shown = await cli(['runs', 'show', runId]);
    expect(shown.output).toMatch(new RegExp(`^run\\s+${runId}$`, 'm'));
    expect(shown.output).toMatch(/^status\s+succeeded$/m);
    expect(shown.output).toMatch(/^output\s+\{\n {2}"answer": "tables is fine"\n\}$/m);
    expect(shown.output).toMatch(
      /^step\s+tier\s+model\s+tokens in\s+tokens out\s+cost \(USD\)\s+latency\s+tool calls$/m,
    );
    expect(shown.output).toMatch(
      /^\s*0\s+plan\s+scripted:lookup-plan\s+[\d,]+\s+[\d,]+\s+\$0\.\d{6}\s+\d+\.\d\ds\s+lookup ok$/m,
    );
    expect(shown.output).toMatch(
      /^\s*1\s+execute\s+scripted:lookup-execute\s+[\d,]+\s+[\d,]+\s+\$0\.\d{6}\s+\d+\.\d\ds\s+-$/m,
    );
    const shownJson = JSON.parse((await cli(['runs', 'show', runId, '--json'])).output);
    expect(shownJson.run).toMatchObject({ runId, status: 'succeeded' });
    expect(shownJson.timeline.map((step: { step: number }) => step.step)).toEqual([0, 1]);
  });

  it('events follows a live run to run.finished: a timed line per event, or NDJSON with --json', async () => {
    const { output: created } = await cli(['run', 'sleeper', '--input', '{"ms":1500}']);
    const runId = runIdOf(created);
    const followed = await cli(['events', runId, '--json']);
    expect(followed.code).toBe(0);
    const streamed = followed.output
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; event: { type: string; tool?: string } });
    expect(streamed[0]?.event.type).toBe('run.queued');
    expect(streamed.at(-1)?.event).toMatchObject({ type: 'run.finished', status: 'succeeded' });
    expect(streamed.some(({ event }) => event.type === 'tool.called' && event.tool === 'pause')).toBe(true);
    expect(new Set(streamed.map(({ id }) => id)).size).toBe(streamed.length);

    const human = (await cli(['events', runId])).output.trimEnd().split('\n');
    expect(human).toHaveLength(streamed.length);
    expect(human[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}queued$/);
    expect(human.at(-1)).toMatch(/ {2}finished: succeeded after 2 steps in \d+\.\d\ds$/);
  });

  it('cancel stops a run that run --wait follows, which then exits 1', async () => {
    const sink = { output: '' };
    const waiting = cli(['run', 'sleeper', '--input', '{"ms":60000}', '--wait'], sink);
    const runId = await waitFor('the run id', () => runIdOf(sink.output) || undefined);
    await waitFor('the pause to start', async () => {
      const run = await client.getRun(runId);
      return run.status === 'running' && run.steps.length === 1 ? true : undefined;
    });
    const cancelled = await cli(['cancel', runId, '--reason', 'changed my mind']);
    // Requested, or already done when the worker was quicker than the API's second look at the run.
    expect([
      `${runId}: cancel requested; its worker stops it within moments (plainloop runs show ${runId})\n`,
      `${runId} cancelled\n`,
    ]).toContain(cancelled.output);
    const { code, output } = await waiting;
    expect(code).toBe(1);
    // Cancelled in the middle of its first step: no step completed.
    expect(output).toMatch(/^cancelled · 0 steps · /m);
    expect(output).toContain('error: cancelled: changed my mind');
    expect((await cli(['cancel', runId])).output).toBe(`${runId} cancelled\n`);
  });

  it('approve decides a call that waits: runs show names it, approve lets it run, --deny refuses it', async () => {
    const pendingCall = async (runId: string) =>
      waitFor('the run to wait for approval', async () => {
        const run = await client.getRun(runId);
        return run.approvals.find((approval) => approval.decision === 'pending');
      });
    const approvedRun = runIdOf((await cli(['run', 'refunds', '--input', '{"orderId":"order-7"}'])).output);
    const call = await pendingCall(approvedRun);
    expect((await cli(['runs', 'show', approvedRun])).output).toContain(
      `call ${call.callId} (refund {"orderId":"order-7"}) waits: plainloop approve ${approvedRun} ${call.callId} [--deny]`,
    );
    expect((await cli(['approve', approvedRun, call.callId, '--comment', 'fine'])).output).toBe(
      `approved call ${call.callId} of ${approvedRun}\n`,
    );
    expect(await client.waitForRun(approvedRun)).toMatchObject({
      status: 'succeeded',
      output: 'refund: {"refunded":"order-7"}',
    });

    const deniedRun = runIdOf((await cli(['run', 'refunds', '--input', '{"orderId":"order-8"}'])).output);
    const deniedCall = await pendingCall(deniedRun);
    const denied = await cli([
      'approve',
      deniedRun,
      deniedCall.callId,
      '--deny',
      '--comment',
      'not eligible',
      '--json',
    ]);
    expect(JSON.parse(denied.output)).toEqual({
      runId: deniedRun,
      callId: deniedCall.callId,
      decision: 'denied',
    });
    expect((await client.waitForRun(deniedRun)).output).toContain('approval_denied');
    // Decided already: the API refuses, exit 3.
    expect(await failure(['approve', deniedRun, deniedCall.callId])).toMatchObject({
      exitCode: 3,
      message: expect.stringMatching(/^not_awaiting_approval: /),
    });
  });

  it('fork replays the first steps and goes on with the models given; runs show marks what was replayed', async () => {
    const source = runIdOf((await cli(['run', 'lookup', '--input', '{"topic":"forking"}', '--wait'])).output);
    const { code, output } = await cli([
      'fork',
      source,
      '--from-step',
      '1',
      '--plan-model',
      'openai:gpt-4.1-mini',
      '--execute-model',
      'openai:gpt-4.1-mini',
      '--wait',
    ]);
    expect(code).toBe(0);
    expect(output).toMatch(new RegExp(`^run_\\w+ queued: forked from ${source} at step 1\\n`));
    expect(output).toMatch(/^ {2}openai:gpt-4\.1-mini → final answer \(300 in \/ 12 out tokens, /m);
    expect(output).toMatch(/^succeeded · 2 steps · 300 in \/ 12 out tokens · /m);
    expect(output).toContain('"answer": "answered by openai"');

    const shown = (await cli(['runs', 'show', runIdOf(output)])).output;
    expect(shown).toMatch(
      new RegExp(
        `^forked from\\s+${source} at step 1 \\(the steps replayed cost \\$0\\.\\d{6} there\\)$`,
        'm',
      ),
    );
    expect(shown).toMatch(/^\s*0\s+plan \(replayed\)\s+scripted:lookup-plan\s.*lookup ok$/m);
    expect(shown).toMatch(/^\s*1\s+\S+\s+openai:gpt-4\.1-mini\s+300\s+12\s/m);

    expect(await failure(['fork', source, '--from-step', '7'])).toMatchObject({
      exitCode: 3,
      message: expect.stringMatching(/^invalid_fork: run run_\w+ has 2 completed steps/),
    });
    expect(await failure(['fork', source, '--from-step', '1', '--plan-model', 'gpt-4'])).toMatchObject({
      exitCode: 2,
      message: '--plan-model takes provider:model (e.g. openai:gpt-4.1), not "gpt-4"',
    });
  });

  it('names a run that does not exist in one line, exit 3; help documents the exit codes', async () => {
    expect(await failure(['runs', 'show', 'run_doesnotexist0000'])).toEqual({
      exitCode: 3,
      message: 'run_not_found: no run run_doesnotexist0000',
    });
    const help = await cli(['help']);
    expect(help.code).toBe(0);
    expect(help.output).toContain('Exit codes: 0 success (with --wait: the run succeeded); 1 the run ended');
    expect(help.output).toContain("plainloop run <agent> --input '<json>' | @file.json");
  });

  describe('the real bin', () => {
    const binEnvironment = () => ({ PATH: process.env.PATH, ...environment });

    it('exits 1 when the run it waited for failed, saying why on stdout and nothing on stderr', async () => {
      const { code, stdout, stderr } = await runPlainloop(
        ['run', 'stubborn', '--input', '{"question":"why?"}', '--wait'],
        binEnvironment(),
      );
      expect(stderr).toBe('');
      expect(code).toBe(1);
      expect(stdout).toMatch(/^failed · 3 steps · /m);
      expect(stdout).toMatch(/^error: invalid_output: /m);
    });

    it('ends quietly, exit 0, when its reader goes away while it follows a run (| head)', async () => {
      // A run that sleeps until cancelled, however slowly the command starts on a busy machine; once the
      // reader has gone, the cancel makes the command write its next events into the closed pipe.
      const { output } = await cli(['run', 'sleeper', '--input', '{"ms":60000}']);
      const runId = runIdOf(output);
      let cancelled: Promise<unknown> | undefined;
      const { code, stdout, stderr } = await runPlainloop(['events', runId], binEnvironment(), {
        readLines: 1,
        whenReaderLeft: () => {
          cancelled = cli(['cancel', runId]);
        },
      });
      await cancelled;
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}queued\n/);
      expect(stdout).not.toContain('finished');
    });

    it('exits 3 with one line on stderr when the API refuses the key', async () => {
      const { code, stdout, stderr } = await runPlainloop(['runs', 'ls'], {
        ...binEnvironment(),
        PLAINLOOP_API_KEY: 'a-key-nobody-was-given',
      });
      expect(code).toBe(3);
      expect(stdout).toBe('');
      expect(stderr).toBe(
        'plainloop: unauthenticated: this API key is not valid (set PLAINLOOP_API_KEY or --api-key)\n',
      );
    });

    it('exits 4 with one line on stderr when the API is unreachable', async () => {
      const apiUrl = `http://127.0.0.1:${await freePort()}`;
      const { code, stderr } = await runPlainloop(
        ['runs', 'show', 'run_doesnotexist0000', '--api-url', apiUrl],
        binEnvironment(),
      );
      expect(code).toBe(4);
      expect(stderr).toBe(
        `plainloop: unreachable: cannot reach the plainloop API at ${apiUrl} (ECONNREFUSED) (is the API running? set PLAINLOOP_API_URL or --api-url)\n`,
      );
    });

    it('exits 2 with one line on stderr for a bad flag or input that is not JSON, before calling the API', async () => {
      const [badFlag, badInput] = await Promise.all([
        runPlainloop(['runs', 'ls', '--limit', 'lots'], binEnvironment()),
        runPlainloop(['run', 'lookup', '--input', '{topic: cli}'], binEnvironment()),
      ]);
      expect(badFlag).toEqual({
        code: 2,
        stdout: '',
        stderr: 'plainloop: --limit must be a whole number from 1 to 1000, not "lots"\n',
      });
      expect(badInput.code).toBe(2);
      expect(badInput.stderr).toMatch(
        /^plainloop: --input is not JSON \(.*\); quote strings: --input '"hello"'\n$/,
      );
    });
  });
});
