// The C API (include/vknorm/vknorm.h); written in issue 4.
