// internal_headers_begin.hpp — include before CPython's internal headers, and
// internal_headers_end.hpp after them: they use C idioms that the module's warning flags
// dislike, and they are not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpedantic"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-parameter"
