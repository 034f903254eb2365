#include "actors/registry_actor.hpp"
