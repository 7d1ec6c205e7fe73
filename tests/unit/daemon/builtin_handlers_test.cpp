#include <catch2/catch.hpp>

#include "daemon/builtin_handlers.h"
#include "skedd/embed/handler.h"

TEST_CASE("the built-in handlers' names are those registered", "[daemon]") {
  // skedctl validates configuration with the names alone, without a registry.
  skedd::HandlerRegistry registry;
  skedd::register_builtin_handlers(registry);
  CHECK(registry.names() == skedd::builtin_handler_names());
}
