#include "protocol/go_json.hpp"

#include <doctest/doctest.h>
