/**
 * Runs live in shards: a run belongs to one of `runShardCount` shards, fixed by its id. Every key of a
 * run, its shard's event stream and its shard's metrics share the shard's hash tag, so one script call
 * can commit the writes of many runs of a shard, on one Redis and on Redis Cluster alike (a script may
 * only touch keys of one hash slot there).
 *
 * The count is part of the key layout: changing it moves runs to other keys. Sixteen shards spread over
 * up to sixteen cluster masters, and each shard's tag is picked so that its slot falls in its own
 * sixteenth of the slot space: `redis-cli --cluster create` gives each master a contiguous range, so
 * the shards spread evenly over any number of masters up to sixteen.
 */
export const runShardCount = 16;

const slotCount = 16_384;

/** CRC16/XMODEM, the checksum Redis Cluster takes the slot of a key from. */
function crc16(text: string): number {
  let crc = 0;
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The cluster slot of a key: of its hash tag (the text in its first non-empty `{...}`), else of the whole key. */
export function slotOf(key: string): number {
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) return crc16(key.slice(open + 1, close)) % slotCount;
  }
  return crc16(key) % slotCount;
}

/** The hash tag of each shard: `r<shard>.<n>`, the first `n` whose slot lies in the shard's range. */
export const shardTags: readonly string[] = Array.from({ length: runShardCount }, (_, shard) => {
  const width = slotCount / runShardCount;
  for (let attempt = 0; ; attempt += 1) {
    const tag = `r${shard}.${attempt}`;
    const slot = crc16(tag) % slotCount;
    if (slot >= shard * width && slot < (shard + 1) * width) return tag;
  }
});

/**
 * The shard of a run: FNV-1a of its id, modulo the shard count. Stable across processes and versions;
 * only plainloop's own processes need it (producers enqueue by run id alone).
 */
export function shardOf(runId: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < runId.length; index += 1) {
    hash ^= runId.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % runShardCount;
}
