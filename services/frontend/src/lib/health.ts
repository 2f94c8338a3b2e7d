/**
 * Turns the backend's /api/health answer into rows the status page can show.
 *
 * The backend answers `{"status": "ok"|"degraded", "checks": {"postgres": "ok",
 * "redis": "error: ..."}}` with 200 when every check passes and 503 otherwise. A check
 * may also arrive as an object (`{"status": "ok"}` / `{"status": "error", "error": "..."}`),
 * so both shapes are accepted.
 */

export type CheckState = 'ok' | 'down' | 'unknown';

export interface ServiceRow {
	name: string;
	state: CheckState;
	detail: string;
}

export interface HealthView {
	overall: CheckState;
	headline: string;
	rows: ServiceRow[];
}

/** Rows every page shows even before the first answer, so the layout never jumps. */
export const EXPECTED_SERVICES = ['backend', 'postgres', 'redis'] as const;

function checkRow(name: string, value: unknown): ServiceRow {
	if (typeof value === 'string') {
		if (value.toLowerCase() === 'ok') return { name, state: 'ok', detail: 'ok' };
		return { name, state: 'down', detail: value.replace(/^error:\s*/i, '') || 'error' };
	}
	if (value && typeof value === 'object') {
		const record = value as Record<string, unknown>;
		const status = String(record.status ?? '').toLowerCase();
		const error = typeof record.error === 'string' ? record.error : '';
		if (status === 'ok' && !error) return { name, state: 'ok', detail: 'ok' };
		return { name, state: 'down', detail: error || status || 'error' };
	}
	return { name, state: 'unknown', detail: 'no answer' };
}

/** Rows shown before the first poll answers. */
export function pendingView(): HealthView {
	return {
		overall: 'unknown',
		headline: 'checking…',
		rows: EXPECTED_SERVICES.map((name) => ({ name, state: 'unknown', detail: 'checking…' }))
	};
}

/** Health view when the backend itself could not be reached (network error, 502, HTML…). */
export function unreachableView(reason: string): HealthView {
	return {
		overall: 'down',
		headline: `backend unreachable: ${reason}`,
		rows: EXPECTED_SERVICES.map((name) =>
			name === 'backend'
				? { name, state: 'down', detail: reason }
				: { name, state: 'unknown', detail: 'backend unreachable' }
		)
	};
}

/**
 * Builds the view from an HTTP status and the parsed JSON body of /api/health.
 *
 * A body without `checks` (a proxy error page, say) counts as an unreachable backend.
 */
export function healthView(httpStatus: number, body: unknown): HealthView {
	const record = body && typeof body === 'object' ? (body as Record<string, unknown>) : null;
	const checks = record?.checks;
	if (!checks || typeof checks !== 'object') {
		return unreachableView(`HTTP ${httpStatus}`);
	}
	const dependencyRows = Object.entries(checks as Record<string, unknown>)
		.map(([name, value]) => checkRow(name, value))
		.sort((a, b) => a.name.localeCompare(b.name));
	const failed = dependencyRows.filter((row) => row.state !== 'ok');
	const overall: CheckState = httpStatus === 200 && failed.length === 0 ? 'ok' : 'down';
	const headline =
		overall === 'ok'
			? 'all services healthy'
			: `degraded: ${failed.map((row) => row.name).join(', ') || `HTTP ${httpStatus}`}`;
	const backendRow: ServiceRow = { name: 'backend', state: 'ok', detail: `HTTP ${httpStatus}` };
	return { overall, headline, rows: [backendRow, ...dependencyRows] };
}
