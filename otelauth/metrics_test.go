package otelauth_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// newProvider returns an SDK meter provider whose metrics reader holds.
func newProvider(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background()), "shutting down the meter provider") })
	return mp, reader
}

// point is one data point that a reader collected.
type point struct {
	unit    string
	value   int64     // a counter's value, a histogram's count
	sum     float64   // a histogram's sum
	bounds  []float64 // a histogram's bucket boundaries
	buckets []uint64  // a histogram's bucket counts
}

// collect returns the data points reader holds, keyed by metric name and
// attributes as key(t, name, attrs...) writes them.
func collect(t *testing.T, reader *sdkmetric.ManualReader) map[string]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm), "collecting metrics")
	got := map[string]point{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Sum[int64]:
				require.True(t, data.IsMonotonic, "%s: want a monotonic counter", m.Name)
				for _, dp := range data.DataPoints {
					got[key(m.Name, dp.Attributes.ToSlice()...)] = point{unit: m.Unit, value: dp.Value}
				}
			case metricdata.Histogram[float64]:
				for _, dp := range data.DataPoints {
					got[key(m.Name, dp.Attributes.ToSlice()...)] = point{
						unit: m.Unit, value: int64(dp.Count), sum: dp.Sum, bounds: dp.Bounds, buckets: dp.BucketCounts,
					}
				}
			default:
				require.Failf(t, "unexpected aggregation", "%s: %T", m.Name, m.Data)
			}
		}
	}
	return got
}

// key names a data point: "name{k=v,k=v}", with the attributes sorted.
func key(name string, attrs ...attribute.KeyValue) string {
	s := make([]string, len(attrs))
	for i, kv := range attrs {
		s[i] = string(kv.Key) + "=" + kv.Value.String()
	}
	sort.Strings(s)
	return name + "{" + strings.Join(s, ",") + "}"
}

// values returns the value of each data point of got.
func values(got map[string]point) map[string]int64 {
	v := make(map[string]int64, len(got))
	for k, p := range got {
		v[k] = p.value
	}
	return v
}

// logPoints logs got, one data point a line, sorted.
func logPoints(t *testing.T, got map[string]point) {
	t.Helper()
	lines := make([]string, 0, len(got))
	for k, p := range got {
		line := fmt.Sprintf("%s = %d %s", k, p.value, p.unit)
		if p.unit == "s" {
			line = fmt.Sprintf("%s count=%d sum=%gs", k, p.value, p.sum)
		}
		lines = append(lines, line)
	}
	sort.Strings(lines)
	t.Log("metrics:\n" + strings.Join(lines, "\n"))
}
