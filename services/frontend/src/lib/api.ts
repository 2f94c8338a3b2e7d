/**
 * Thin fetch wrappers around the backend, always on the page's own origin: Vite proxies
 * /api in dev, the Ingress routes it in Kubernetes.
 */
import { healthView, unreachableView, type HealthView } from './health';
import { toJobResult, type JobResult } from './jobs';

/** Polls /api/health once; never throws (an unreachable backend is a view too). */
export async function fetchHealth(fetcher: typeof fetch = fetch): Promise<HealthView> {
	try {
		const response = await fetcher('/api/health', { headers: { accept: 'application/json' } });
		const body: unknown = await response.json().catch(() => null);
		return healthView(response.status, body);
	} catch (error) {
		return unreachableView(error instanceof Error ? error.message : String(error));
	}
}

/** Recent jobs from /api/jobs (accepts a bare list or {"jobs": [...]}); empty on failure. */
export async function fetchJobs(fetcher: typeof fetch = fetch): Promise<JobResult[]> {
	try {
		const response = await fetcher('/api/jobs', { headers: { accept: 'application/json' } });
		if (!response.ok) return [];
		const body: unknown = await response.json();
		const list = Array.isArray(body) ? body : (body as { jobs?: unknown[] } | null)?.jobs;
		return (list ?? []).map(toJobResult).filter((job): job is JobResult => job !== null);
	} catch {
		return [];
	}
}

export interface Created {
	strategyId: string;
	name: string;
	jobId: string;
}

/**
 * Creates a strategy (the backend queues its backtest job at once); resolves to the new
 * ids or throws with the backend's own message (`{"error": "..."}`).
 */
export async function createStrategy(
	name: string,
	symbol: string,
	fetcher: typeof fetch = fetch
): Promise<Created> {
	const response = await fetcher('/api/strategies', {
		method: 'POST',
		headers: { 'content-type': 'application/json', accept: 'application/json' },
		body: JSON.stringify(symbol ? { name, symbol } : { name })
	});
	const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
	if (!response.ok) {
		const message = typeof body?.error === 'string' ? body.error : `HTTP ${response.status}`;
		throw new Error(message);
	}
	const strategy = (body?.strategy ?? {}) as Record<string, unknown>;
	const job = (body?.job ?? {}) as Record<string, unknown>;
	return {
		strategyId: String(strategy.id ?? ''),
		name: String(strategy.name ?? name),
		jobId: String(job.id ?? '')
	};
}
