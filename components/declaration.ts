/**
 * The program declares its resources in chunks (docs/architecture.md, "The program's size").
 *
 * Every `new RemoteFile(...)` starts a registration that stays pending (its Outputs, promises,
 * closures and serialized request alive) until the engine answers it, and the engine cannot answer
 * while the program keeps the event loop busy. Declared in one synchronous run, a 1,000-host
 * cluster's ~7,800 registrations were all pending at once: most of the program's peak memory. So
 * the services' resources are declared by generators (`Steps`) that yield once per resource, and
 * one driver per cluster (`Declaration`) lets the event loop turn after every `chunk` resources:
 * the registrations of a chunk are sent, answered and released while the next chunk is declared.
 *
 * Nothing else changes: the generators run one after the other in the order they were queued, each
 * to its end, so the resources are declared in the same order with the same names, parents, inputs
 * and dependencies as in one synchronous run (tests/program/declaration.test.ts compares both for
 * every example stack). `chunk` 0 declares everything synchronously, in the constructors, as before.
 * The stack's outputs wait for `done` (components/ha-cluster.ts), so neither the language host nor
 * the SDK's mocks see the program finish before its last resource is declared; the language host
 * also waits for the event loop to be empty, which it is not between chunks.
 *
 * An error thrown while declaring synchronously (the first chunk, or `chunk` 0) is thrown from the
 * constructor as before; one thrown in a later chunk rejects `done` and every queued generator's
 * promise with it (the language host reports that error once and fails the program), and nothing
 * queued after it is declared.
 */

import * as pulumi from "../src/providers/pulumi-sdk";

/** One step per declared resource; the value is the generator's result. */
export type Steps<T> = Generator<void, T, void>;

/** Resources declared between two turns of the event loop when nothing says otherwise. */
export const DEFAULT_CHUNK = 25;

/**
 * The chunk size: `HAFORGE_DECLARE_CHUNK` (a whole number, 0 = everything at once; for the tests
 * and benches that compare both), else DEFAULT_CHUNK. Anything else is ignored.
 */
export function declarationChunk(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const raw = env["HAFORGE_DECLARE_CHUNK"]?.trim();
  if (!raw || !/^\d{1,9}$/.test(raw)) return DEFAULT_CHUNK;
  return Number(raw);
}

interface Queued {
  /** The generator, started at the item's first turn. */
  it?: Steps<void>;
  readonly steps: () => Steps<void>;
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class Declaration {
  private readonly queue: Queued[] = [];
  private driving = false;
  private failed: { error: unknown } | undefined;
  private count = 0;
  private last: Promise<void> = Promise.resolve();

  constructor(readonly chunk: number = declarationChunk()) {}

  /**
   * Queues `steps` (started after every generator queued before it has ended) and returns a promise
   * of its end. When nothing is being declared, it starts at once, synchronously.
   */
  run(steps: () => Steps<void>): Promise<void> {
    let resolve: () => void = () => undefined;
    let reject: (e: unknown) => void = () => undefined;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    this.last = promise;
    if (this.failed) reject(this.failed.error);
    else {
      this.queue.push({ steps, promise, resolve, reject });
      if (!this.driving) this.drive(true);
    }
    return promise;
  }

  /** Settles when everything queued so far is declared (rejects with the first error). */
  get done(): Promise<void> {
    return this.last;
  }

  /** Runs the queue; `sync`: called from `run`, where an error is thrown to the constructor as before. */
  private drive(sync: boolean): void {
    this.driving = true;
    try {
      for (let item = this.queue[0]; item; item = this.queue[0]) {
        const it = (item.it ??= item.steps());
        for (let r = it.next(); !r.done; r = it.next()) {
          if (this.chunk > 0 && ++this.count % this.chunk === 0) {
            // Let the event loop turn: the pending registrations are sent and answered. This
            // generator and the rest of the queue go on from the next turn.
            setImmediate(() => this.drive(false));
            return;
          }
        }
        this.queue.shift();
        item.resolve();
      }
      this.driving = false;
    } catch (error) {
      this.fail(error, sync);
    }
  }

  /**
   * Rejects what is queued and throws: to the constructor that started the declaration (`sync`), as
   * a synchronous declaration threw; else from the event loop's turn, where the language host
   * reports it (once: the rejections carry the same error) and fails the program.
   */
  private fail(error: unknown, sync: boolean): never {
    this.failed = { error };
    this.driving = false;
    for (const q of this.queue.splice(0)) {
      q.reject(error);
      if (sync) q.promise.catch(() => undefined);
    }
    throw error;
  }
}

/** `o` once everything queued before `declared` was made is declared; rejects when that fails. */
export const afterDeclared = <T>(declared: Promise<void>, o: pulumi.Output<T>): pulumi.Output<T> =>
  pulumi.all([pulumi.output(declared), o]).apply(([, v]) => v as T);
