package stream

// ComputeWatermark exposes the tracker's min-rule to the tests of package
// stream_test.
var ComputeWatermark = computeWatermark
