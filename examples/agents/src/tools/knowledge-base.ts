/**
 * A small offline corpus the example `search` tool reads, so the demo runs with no network. Swap the
 * tool's body for a real search API in your own agents; its contract stays the same.
 */
export const documents = [
  {
    url: 'https://docs.bullmq.io/guide/workers/stalled-jobs',
    title: 'Stalled jobs',
    text: 'A job is stalled when its worker stops renewing the lock. BullMQ moves stalled jobs back to wait so another worker resumes them. Jobs that stall more than maxStalledCount times fail.',
  },
  {
    url: 'https://docs.bullmq.io/guide/retrying-failing-jobs',
    title: 'Retrying failing jobs',
    text: 'Jobs can be retried with attempts and a backoff strategy. Exponential backoff doubles the delay after each failure. Unrecoverable errors skip the remaining attempts.',
  },
  {
    url: 'https://redis.io/docs/latest/develop/interact/programmability/eval-intro',
    title: 'Scripting with Lua',
    text: 'Redis runs Lua scripts atomically: no other command runs while a script executes. Scripts are the way to build compare-and-set and other multi-key invariants.',
  },
  {
    url: 'https://redis.io/docs/latest/develop/data-types/streams',
    title: 'Redis Streams',
    text: 'A stream is an append-only log. XADD appends entries and MAXLEN trims the stream so memory stays bounded. Consumers read with XREAD and can block waiting for new entries.',
  },
  {
    url: 'https://platform.openai.com/docs/guides/rate-limits',
    title: 'Rate limits',
    text: 'Providers answer 429 when a rate limit is hit, often with a retry-after header. Clients should back off exponentially with jitter and honour retry-after instead of hammering the API.',
  },
  {
    url: 'https://martinfowler.com/articles/patterns-of-distributed-systems/fencing-token.html',
    title: 'Fencing tokens',
    text: 'A fencing token is a number that grows with every change of owner. Storage rejects writes that carry an older token, so a paused process that lost its lease cannot corrupt state.',
  },
  {
    url: 'https://sre.google/sre-book/handling-overload',
    title: 'Handling overload',
    text: 'Under overload a service should shed load early and clients should retry with budgets. Circuit breakers stop a failing dependency from taking the whole fleet down.',
  },
];
