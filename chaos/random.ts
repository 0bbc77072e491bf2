/**
 * The run's one source of randomness, seeded: the same seed draws the same mix, the same faults and the same times,
 * so a failed run can be repeated. Each concern takes its own stream (`fork`), so adding a draw to one does not
 * shift the others.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

export class SeededRandom {
  readonly #rng: RandomGenerator;

  constructor(readonly seed: number) {
    this.#rng = xoroshiro128plus(seed);
  }

  /** An independent stream for one concern, seeded from this seed and the concern's name. */
  fork(name: string): SeededRandom {
    return new SeededRandom(createHash('sha256').update(`${this.seed}/${name}`).digest().readUInt32BE(0));
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return uniformInt(this.#rng, min, max);
  }

  /** A duration in ms in [minMs, maxMs]. */
  between(minMs: number, maxMs: number): number {
    return this.int(minMs, maxMs);
  }

  /** Whether an event of probability `p` happens. */
  chance(p: number): boolean {
    return uniformFloat64(this.#rng) < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(0, items.length - 1)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** A shuffled copy (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy;
  }
}
