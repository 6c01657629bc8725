// internal_headers_end.hpp — see internal_headers_begin.hpp.
#pragma GCC diagnostic pop
