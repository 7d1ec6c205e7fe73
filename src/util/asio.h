// The one way to include Asio. Boost 1.74's asio/awaitable.hpp uses std::exchange without
// including <utility>, which GCC 12 rejects unless it was included first.
#pragma once

#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

namespace asio = boost::asio;
