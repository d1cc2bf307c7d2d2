target_link_libraries(vpp-bench PRIVATE vpp::openadr)
