package framework

// MeasureLayers makes one layer-statistics measurement of t's last update
// (the work the step adds every LayerStatsEvery updates: the gradient
// norms, the dead fractions, the copy of the weights, the weight and update
// norms and the observer's call, with iteration 0), for
// BenchmarkLayerStats. t must have trained with LayerStatsEvery > 0.
func MeasureLayers(t *Trainer) {
	t.probe.beforeUpdate()
	t.probe.afterUpdate(0)
}
