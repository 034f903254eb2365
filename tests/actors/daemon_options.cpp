#include "actors/daemon_options.hpp"

#include <doctest/doctest.h>
