package codec

// CheckMsgpack exposes the validating walk that Msgpack's Unmarshal runs
// first, so that benchmarks can tell its share of the cost.
var CheckMsgpack = checkMsgpack
