#pragma once
// The one place the HTTP adapter includes Asio and Beast. Boost 1.74's Asio uses std::exchange
// in awaitable.hpp without including <utility>, which g++ 12 in C++20 mode rejects
// (shared/STACK.md), so <utility> comes first.
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
