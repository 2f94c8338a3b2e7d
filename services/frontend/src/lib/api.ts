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

export interface Strategy {
	id: string;
	name: string;
}

/** Creates a strategy; resolves to the created row or throws with the backend's message. */
export async function createStrategy(
	name: string,
	fetcher: typeof fetch = fetch
): Promise<Strategy> {
	const response = await fetcher('/api/strategies', {
		method: 'POST',
		headers: { 'content-type': 'application/json', accept: 'application/json' },
		body: JSON.stringify({ name })
	});
	const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
	if (!response.ok) {
		const message = typeof body?.error === 'string' ? body.error : `HTTP ${response.status}`;
		throw new Error(message);
	}
	const row = (body?.strategy ?? body ?? {}) as Record<string, unknown>;
	return { id: String(row.id ?? ''), name: String(row.name ?? name) };
}
