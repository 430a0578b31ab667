// A seedable random source for the simulators (the demo generator's mulberry32), so a run repeats exactly with --seed.
import { Rng } from '../../gateway/registry/demo.js';

export class Random extends Rng {
  between(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** Like pick(), but undefined for an empty list instead of an error: a fleet may have nobody online. */
  pickOrNone<T>(items: readonly T[]): T | undefined {
    return items.length === 0 ? undefined : this.pick(items);
  }

  /** How many events a Poisson process with `mean` expected events produces (Knuth; fine for the small means of one tick). */
  poisson(mean: number): number {
    if (mean <= 0) return 0;
    if (mean > 30) return Math.max(0, Math.round(mean + Math.sqrt(mean) * this.normal()));
    const limit = Math.exp(-mean);
    let k = 0;
    let p = this.next();
    while (p > limit) {
      k++;
      p *= this.next();
    }
    return k;
  }

  private normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}
