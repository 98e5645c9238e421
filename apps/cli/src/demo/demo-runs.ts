import type { RunRequestInput } from '@plainloop/contracts';

/** The runs the demo enqueues: both example agents, an unknown company, a topic with no sources. */
export const demoRuns: Array<{ label: string; request: RunRequestInput }> = [
  { label: 'research-1', request: { agent: 'research', input: { topic: 'stalled jobs and retries' } } },
  { label: 'research-2', request: { agent: 'research', input: { topic: 'fencing tokens and Lua scripts' } } },
  {
    label: 'lead-1',
    request: {
      agent: 'lead-qualification',
      input: {
        name: 'Ada',
        email: 'ada@globex.com',
        message: 'We need pricing for 400 seats and a demo next week.',
      },
    },
  },
  {
    label: 'lead-2',
    request: {
      agent: 'lead-qualification',
      input: { name: 'Linus', email: 'linus@initech.dev', message: 'Just browsing, nice site.' },
    },
  },
  {
    label: 'lead-3',
    request: {
      agent: 'lead-qualification',
      input: { name: 'Grace', email: 'grace@unknown.example', message: 'Can we get a trial?' },
    },
  },
];
