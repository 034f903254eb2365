#include "protocol/events.hpp"

#include <doctest/doctest.h>
