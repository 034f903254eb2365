#include "control/pilot_config.hpp"

#include <doctest/doctest.h>
