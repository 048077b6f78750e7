/*
 * metrics.c - histogram buckets shared by the store and the metrics file.
 * Buckets are cumulative, Prometheus-style: buckets[i] counts observations
 * <= bounds[i]; the last bound is +Inf.
 */
#include <math.h>

#include "store_internal.h"

const double es_latency_bounds_s[ES_HIST_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
    0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    5.0,   INFINITY};

const double es_batch_bounds[ES_HIST_BUCKETS] = {
    1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 16384, 65536, INFINITY};

void es_hist_add(struct es_histogram *h, const double *bounds, double v)
{
    h->count++;
    h->sum += v;
    for (int i = 0; i < ES_HIST_BUCKETS; i++)
        if (v <= bounds[i])
            h->buckets[i]++;
}
