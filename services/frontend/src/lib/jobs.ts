/**
 * Job results as the page shows them: parsed from /ws messages and /api/jobs rows,
 * newest first, bounded so a long-open tab does not grow without limit.
 */

export interface JobResult {
	key: string;
	jobId: string;
	strategyId: string;
	status: string;
	summary: string;
	at: string;
}

/** How many results the feed keeps. */
export const FEED_LIMIT = 50;

function pick(record: Record<string, unknown>, ...names: string[]): string {
	for (const name of names) {
		const value = record[name];
		if (typeof value === 'string' || typeof value === 'number') return String(value);
	}
	return '';
}

function percent(value: number): string {
	const sign = value > 0 ? '+' : '';
	return `${sign}${(value * 100).toFixed(2)}%`;
}

/**
 * One line for a result: the backtest numbers the worker reports (`total_return`,
 * `max_drawdown` as fractions, `trades`), an error text as is, anything else as JSON.
 */
export function summarize(value: unknown): string {
	if (value === undefined || value === null) return '';
	if (typeof value === 'string') return value;
	const record = value as Record<string, unknown>;
	if (typeof record.total_return === 'number') {
		const parts = [`return ${percent(record.total_return)}`];
		if (typeof record.max_drawdown === 'number') {
			parts.push(`max drawdown ${(record.max_drawdown * 100).toFixed(2)}%`);
		}
		if (typeof record.trades === 'number') parts.push(`${record.trades} trades`);
		return parts.join(', ');
	}
	return JSON.stringify(value);
}

/**
 * Normalises one job record (a /ws message or an /api/jobs row); null for anything that
 * is not a job (pings, hello messages, malformed JSON).
 */
export function toJobResult(raw: unknown): JobResult | null {
	if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return null;
	let record = raw as Record<string, unknown>;
	// Envelopes such as {"type": "job_result", "job": {...}} or {"data": {...}}.
	for (const inner of ['job', 'data', 'payload']) {
		const nested = record[inner];
		if (nested && typeof nested === 'object' && !Array.isArray(nested)) {
			record = { ...record, ...(nested as Record<string, unknown>) };
		}
	}
	const jobId = pick(record, 'job_id', 'jobId', 'id');
	if (!jobId) return null;
	const status = pick(record, 'status', 'state') || 'unknown';
	return {
		key: `${jobId}:${status}`,
		jobId,
		strategyId: pick(record, 'strategy_id', 'strategyId'),
		status,
		summary: summarize(record.result ?? record.error ?? record.output),
		at: pick(record, 'finished_at', 'completed_at', 'updated_at', 'created_at', 'at')
	};
}

/** Parses a WebSocket text frame; null when it is not a job result. */
export function parseMessage(text: string): JobResult | null {
	try {
		return toJobResult(JSON.parse(text));
	} catch {
		return null;
	}
}

/** Adds a result at the front, replacing an older entry for the same job. */
export function pushResult(feed: JobResult[], result: JobResult, limit = FEED_LIMIT): JobResult[] {
	const rest = feed.filter((item) => item.jobId !== result.jobId);
	return [result, ...rest].slice(0, limit);
}

/** The WebSocket address on the page's own origin (ws:// or wss:// to match the page). */
export function socketUrl(location: { protocol: string; host: string }, path = '/ws'): string {
	const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
	return `${scheme}//${location.host}${path}`;
}

/** A timestamp as the page shows it: time of day in UTC, or the input when unparsable. */
export function shortTime(at: string): string {
	const date = new Date(at);
	if (!at || Number.isNaN(date.getTime())) return at;
	return `${date.toISOString().slice(11, 19)} UTC`;
}
