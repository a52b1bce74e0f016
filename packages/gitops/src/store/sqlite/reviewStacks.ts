/** Review stacks in the SQLite file: one row per target and pull request (see `ReviewStackStore`). */
import type Database from "better-sqlite3";
import type { ReviewStackRecord, ReviewStackState, ReviewStackStore } from "../store.js";

/** A row of `review_stacks`, in either database. */
export interface ReviewStackRow {
  target: string;
  number: number;
  stack: string;
  branch: string;
  head_sha: string;
  state: string;
  created_at: string;
  updated_at: string;
  last_push_at: string;
  comment_id: string | null;
  error: string | null;
  attempts: number;
}

/** A record from its row (shared with the PostgreSQL store). */
export const reviewStackFromRow = (row: ReviewStackRow): ReviewStackRecord => ({
  target: row.target,
  number: Number(row.number),
  stack: row.stack,
  branch: row.branch,
  headSha: row.head_sha,
  state: row.state as ReviewStackState,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  lastPushAt: row.last_push_at,
  ...(row.comment_id !== null ? { commentId: row.comment_id } : {}),
  ...(row.error !== null ? { error: row.error } : {}),
  attempts: Number(row.attempts),
});

/** A record's column values in the order of {@link REVIEW_STACK_COLUMNS}. */
export const reviewStackValues = (r: ReviewStackRecord): unknown[] => [
  r.target,
  r.number,
  r.stack,
  r.branch,
  r.headSha,
  r.state,
  r.createdAt,
  r.updatedAt,
  r.lastPushAt,
  r.commentId ?? null,
  r.error ?? null,
  r.attempts,
];

/** The columns of a review stack row, in the order of {@link reviewStackValues}. */
export const REVIEW_STACK_COLUMNS =
  "target, number, stack, branch, head_sha, state, created_at, updated_at, last_push_at, comment_id, error, attempts";

export class SqliteReviewStacks implements ReviewStackStore {
  readonly #db: Database.Database;

  constructor(db: Database.Database) {
    this.#db = db;
  }

  async putReviewStack(record: ReviewStackRecord): Promise<void> {
    this.#db
      .prepare(
        `INSERT OR REPLACE INTO review_stacks (${REVIEW_STACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(...reviewStackValues(record));
  }

  async getReviewStack(target: string, number: number): Promise<ReviewStackRecord | undefined> {
    const row = this.#db
      .prepare("SELECT * FROM review_stacks WHERE target = ? AND number = ?")
      .get(target, number) as ReviewStackRow | undefined;
    return row ? reviewStackFromRow(row) : undefined;
  }

  async listReviewStacks(target?: string): Promise<ReviewStackRecord[]> {
    const rows = (
      target === undefined
        ? this.#db.prepare("SELECT * FROM review_stacks ORDER BY created_at, target, number").all()
        : this.#db
            .prepare("SELECT * FROM review_stacks WHERE target = ? ORDER BY created_at, number")
            .all(target)
    ) as ReviewStackRow[];
    return rows.map(reviewStackFromRow);
  }

  async deleteReviewStack(target: string, number: number): Promise<boolean> {
    return (
      this.#db.prepare("DELETE FROM review_stacks WHERE target = ? AND number = ?").run(target, number)
        .changes > 0
    );
  }
}
