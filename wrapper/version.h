#ifndef TFLOCK_VERSION_H
#define TFLOCK_VERSION_H
#include "ac-config.h"
#define TFLOCK_VERSION PACKAGE_VERSION
#endif
