target_link_libraries(vpp-bench PRIVATE vpp::http vpp::store)
# GCC 12 bug 105329: -Wrestrict misfires on `"literal" + std::string` at -O3.
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/api_bench.cpp PROPERTIES COMPILE_OPTIONS -Wno-restrict)
