#include "actors/registry_actor.hpp"

#include <doctest/doctest.h>
