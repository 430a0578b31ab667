// Global test setup: the browser tests drive the built dashboard, so build it when it is missing or older than its sources.
import { buildDashboardIfStale } from '../../dashboard/build.js';

export default function buildDashboard(): void {
  buildDashboardIfStale();
}
